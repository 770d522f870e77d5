"""Rules as data: load the shipped rule file plus config overrides, and run their pending/firing lifecycle."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Callable

from .config import Config, ConfigError, RuleConfig
from .durations import parse_duration
from .state import RuleState

SEVERITIES = ("P1", "P2", "P3", "P4")
SHIPPED = "rules.toml"


@dataclass(frozen=True)
class Rule:
    """One rule bound to one service: `$job` already replaced by that service's job label."""

    name: str
    expr: str
    for_: float
    severity: str
    service: str  # service name
    kind: str
    runbook: str
    summary: str
    actions: tuple[str, ...] = ()


@dataclass
class _Alert:
    active_since: float
    fired_at: float | None = None
    value: float = math.nan
    labels: dict[str, str] = field(default_factory=dict)


def _shipped() -> list[dict]:
    text = resources.files("console").joinpath(SHIPPED).read_text()
    return tomllib.loads(text)["rules"]


def _merge(shipped: list[dict], overrides: list[RuleConfig], source: str) -> list[dict]:
    """Config [[rules]] override shipped rules by name (field by field) or add new ones."""
    by_name = {r["name"]: dict(r) for r in shipped}
    for i, o in enumerate(overrides):
        given = {k: v for k, v in o.model_dump(by_alias=True).items() if v is not None}
        base = by_name.get(o.name)
        if base is None:
            for key in ("expr", "severity", "service"):
                if key not in given:
                    raise ConfigError(f"{source}: rules[{i}] ({o.name}): new rule needs {key}")
            base = {"for": "0s", "runbook": "", "summary": "", "actions": []}
        base.update(given)
        by_name[o.name] = base
    return [r for r in by_name.values() if not r.get("disabled")]


def load_rules(cfg: Config, check: Callable[[str], None]) -> list[Rule]:
    """Bind every rule to each configured service of its kind; bad expressions fail here, naming the rule."""
    rules: list[Rule] = []
    for i, r in enumerate(_merge(_shipped(), cfg.rules, cfg.source_path)):
        where = f"{cfg.source_path}: rules ({r['name']})"
        if r.get("severity") not in SEVERITIES:
            raise ConfigError(f"{where}.severity: must be one of {', '.join(SEVERITIES)}")
        try:
            for_ = parse_duration(r.get("for", "0s"))
        except ValueError as e:
            raise ConfigError(f"{where}.for: {e}") from None
        for svc in cfg.services:
            if svc.kind != r["service"]:
                continue
            expr = r["expr"].replace("$job", svc.job or svc.name)
            try:
                check(expr)
            except ValueError as e:
                raise ConfigError(f"{where}.expr: {e}") from None
            rules.append(Rule(r["name"], expr, for_, r["severity"], svc.name, svc.kind,
                              r.get("runbook", ""), r.get("summary", ""), tuple(r.get("actions", []))))
    return rules


class RuleEvaluator:
    """Prometheus's alerting-rule lifecycle: inactive → pending (condition holds) → firing (held `for`)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._alerts: dict[tuple[str, str], dict[tuple, _Alert]] = {}
        self._errors: dict[tuple[str, str], str] = {}

    def evaluate(self, now: float, query: Callable[[str, float], list[tuple[dict, float]]]) -> list[RuleState]:
        """Run every rule at `now`; return the pending and firing ones (and the ones whose query failed)."""
        out: list[RuleState] = []
        for rule in self.rules:
            rk = (rule.name, rule.service)
            try:
                result = query(rule.expr, now)
                self._errors.pop(rk, None)
            except Exception as e:  # a bad series must not stop the other rules
                self._errors[rk] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
                result = None
            if result is not None:
                self._step(rk, rule, result, now)
            out.extend(self._states(rk, rule))
        return out

    def _step(self, rk: tuple[str, str], rule: Rule, result: list[tuple[dict, float]], now: float) -> None:
        alerts = self._alerts.setdefault(rk, {})
        seen = set()
        for labels, value in result:
            lk = tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))
            seen.add(lk)
            a = alerts.get(lk)
            if a is None:
                a = alerts[lk] = _Alert(active_since=now, labels=dict(lk))
            a.value = value
            if a.fired_at is None and now - a.active_since >= rule.for_:
                a.fired_at = now
        for lk in [k for k in alerts if k not in seen]:
            del alerts[lk]

    def _states(self, rk: tuple[str, str], rule: Rule) -> list[RuleState]:
        states = []
        for a in self._alerts.get(rk, {}).values():
            states.append(RuleState(
                name=rule.name, service=rule.service, severity=rule.severity,
                state="firing" if a.fired_at is not None else "pending",
                value=None if math.isnan(a.value) else a.value, labels=dict(a.labels),
                active_since=a.active_since, fired_at=a.fired_at, runbook=rule.runbook,
                summary=rule.summary, expr=rule.expr, for_=rule.for_, actions=list(rule.actions),
                error=self._errors.get(rk)))
        if rk in self._errors and not states:
            states.append(RuleState(
                name=rule.name, service=rule.service, severity=rule.severity, state="error",
                value=None, labels={}, active_since=None, fired_at=None, runbook=rule.runbook,
                summary=rule.summary, expr=rule.expr, for_=rule.for_, actions=list(rule.actions),
                error=self._errors[rk]))
        return states

    def reset(self) -> None:
        """Forget every alert (a replay seek rebuilds them from the recording)."""
        self._alerts.clear()
        self._errors.clear()
