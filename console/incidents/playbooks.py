"""The runbooks' playbooks (playbooks.toml) by runbook section, their live values, and rule thresholds for plots."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from console import shipped_toml
from console.durations import format_duration

GENERAL = "004_3b25d9bb95b182cc.txt#General Response Procedures"
UNITS = ("duration", "percent", "rate", "number", "text")


@dataclass(frozen=True)
class Live:
    label: str
    figure: str | None = None
    expr: str | None = None
    action: str | None = None
    unit: str = "text"


@dataclass(frozen=True)
class Step:
    text: str
    live: tuple[Live, ...] = ()


@dataclass(frozen=True)
class Playbook:
    key: str
    title: str
    impact: str
    symptoms: tuple[str, ...]
    diagnosis: tuple[Step, ...]
    resolution: tuple[str, ...]
    escalation: str = ""
    mitigations: tuple[str, ...] = field(default_factory=tuple)

    def exprs(self) -> list[str]:
        return [lv.expr for s in self.diagnosis for lv in s.live if lv.expr]


def _load() -> dict[str, Playbook]:
    data = shipped_toml.load(Path(__file__).with_name("playbooks.toml"))
    out = {}
    for key, p in data["playbooks"].items():
        steps = tuple(Step(s["step"], tuple(Live(**lv) for lv in s.get("live", []))) for s in p.get("diagnosis", []))
        out[key] = Playbook(key, p["title"], p["impact"], tuple(p["symptoms"]), steps, tuple(p["resolution"]),
                            p.get("escalation", ""), tuple(p.get("mitigations", [])))
    return out


PLAYBOOKS: dict[str, Playbook] = _load()


def playbook_for(runbook: str) -> Playbook:
    """The playbook of a runbook section; the general response procedure when none is shipped."""
    return PLAYBOOKS.get(runbook) or PLAYBOOKS[GENERAL]


def exprs_for(rules, job_of: Callable[[str], str]) -> list[str]:
    """Every live-value expression the bound rules' playbooks evaluate (so the store keeps their series)."""
    out = []
    for r in rules:
        pb = PLAYBOOKS.get(r.runbook)
        if pb is not None:
            out += [e.replace("$job", job_of(r.service)) for e in pb.exprs()]
    return out


def fmt(value: Any, unit: str) -> str:
    """A live value as shown beside its step; '?' when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v, unit)}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(str(v.get("id", v)) if isinstance(v, dict) else str(v) for v in value) or "none"
    if isinstance(value, (int, float)):
        if unit == "duration":
            return f"{value * 1000:.0f}ms" if 0 < value < 1 else format_duration(value)
        if unit == "percent":
            return f"{value * 100:.1f}%"
        if unit == "rate":
            return f"{value:.2f}/s"
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    return str(value)


def live_value(lv: Live, figures: dict, query: Callable[[str], list], job: str,
               action_results: dict[str, tuple[float, str]]) -> str:
    """The current value a step asks about, formatted; never raises."""
    if lv.figure:
        value, why = figures.get(lv.figure), figures.get(f"{lv.figure}_why")
        text = fmt(value, lv.unit)
        if text == "?" and why:  # unknown, and the panel figures say why
            return f"? ({why})"
        if lv.figure in (figures.get("filling") or {}):
            return f"{text} (window filling: reads low)"
        return f"{text} (from counters)" if figures.get(f"{lv.figure}_source") == "counters" else text
    if lv.action:
        done = action_results.get(lv.action)
        return f"{done[1]}" if done else f"not run ({lv.action})"
    try:
        res = query(lv.expr.replace("$job", job))
    except Exception:  # noqa: BLE001 - a value that cannot be computed is unknown
        return "?"
    if not res:
        return "?"
    def name(labels: dict) -> str:
        return ",".join(v for k, v in sorted(labels.items()) if k not in ("__name__", "job", "instance"))

    if len(res) == 1 and not name(res[0][0]):
        return fmt(res[0][1], lv.unit)
    # a breakdown (`sum by (endpoint)`): each part in the step's unit, the largest first (which endpoint fails most)
    unit = "number" if lv.unit == "text" else lv.unit
    ranked = sorted(res, key=lambda r: -r[1] if isinstance(r[1], (int, float)) and r[1] == r[1] else math.inf)
    return ", ".join(f"{name(labels) or '·'} {fmt(v, unit)}" for labels, v in ranked)


# A trailing comparison with a number: `... > 0.05`, `... >= 30 < 70`.
_CMP = re.compile(r"\s*(?:>=|<=|==|!=|>|<)\s*(?:bool\s+)?(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$")


_SET_OP = re.compile(r"\s+(?:or|and|unless)\b")


def _first_operand(expr: str) -> str:
    text = expr.strip()
    if not text.startswith("("):
        return expr
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return text[1:i] if _SET_OP.match(text, i + 1) else expr
    return expr


def split_threshold(expr: str) -> tuple[str, float | None]:
    """(the expression without its trailing comparisons, the first of them) — what the plot draws.

    In a band such as `x >= 30 < 70` the first comparison is the one the rule fires on. In `(a > 1) or on (job)
    (...)` (a set operation whose first operand is parenthesised) the first operand is the condition to plot.
    """
    expr = _first_operand(expr)
    base, threshold = expr, None
    while (m := _CMP.search(base)) is not None:
        threshold = float(m.group(1))
        base = base[: m.start()]
    return (base.strip() or expr), threshold
