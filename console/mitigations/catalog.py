"""Mitigations as data: the Action type, the built-ins of mitigations.toml plus the config's [[actions]], and plans."""

from __future__ import annotations

import functools
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal
from urllib.parse import quote

from console import shipped_toml
from console.config.schema import Config, ConfigError
from console.config.strict import Seconds, Strict, decode
from console.state import ServiceState

BUILTIN = Path(__file__).with_name("mitigations.toml")
STAGES = (0, 5, 15, 35, 60, 100)  # runbook 003's rollout stages
GLOBAL = ("now_ms", "now_s", "service", "environment")
# The kind's current state each action may use (captured before sending: the inverse restores it).
CONTEXT: dict[str, tuple[str, ...]] = {
    "conversion": ("enabled", "disabled_surfaces"),
    "converge": ("intake_mode",),
    "path_tracker": ("percent", "next_percent", "previous_percent", "allowlist", "denylist", "failed_alerts_1h"),
}
_EVIDENCE_NAME = re.compile(r"\$([A-Za-z_]\w*)")

class PlanError(Exception):
    """An action that cannot be planned now (unknown state, nothing to pick), phrased as one line."""


# --- pick lists: the items an action is applied to, read from the service's state ---------------


def _surfaces(svc: ServiceState) -> list[dict]:
    off = list(svc.data("config").get("disabled_surfaces") or [])
    seen = sorted({(b.get("key") or "").split(":")[0] for b in svc.data("stats").get("buckets") or [] if b.get("key")})
    return [{"key": s, "label": s + (" (already off)" if s in off else ""), "surface": s,
             "disabled_with": sorted(set(off) | {s})} for s in seen]


def _pipelines(svc: ServiceState) -> list[dict]:
    out = []
    for sw in svc.data("switches").get("switches") or []:
        p, on = sw.get("pipeline"), sw.get("enabled")
        if p:
            out.append({"key": p, "label": f"{p} ({'on' if on else 'off' if on is False else '?'})",
                        "pipeline": p, "enabled": on})
    return out


def _flags(svc: ServiceState) -> list[dict]:
    out = []
    for fl in svc.data("flags").get("flags") or []:
        name, on = fl.get("name"), fl.get("enabled")
        if name and on is not None:
            mode = f", {fl['mode']}" if fl.get("mode") else ""
            out.append({"key": name, "label": f"{name} ({'on' if on else 'off'}{mode}) → {'off' if on else 'on'}",
                        "name": name, "enabled": on, "toggled": not on, "mode": fl.get("mode")})
    return out


def _stages(svc: ServiceState) -> list[dict]:
    now = (svc.data("ops").get("rollout") or {}).get("percent")
    return [{"key": str(s), "label": f"{s} %" + (" (current)" if s == now else ""), "target_percent": s}
            for s in STAGES]


def _failed(svc: ServiceState) -> list[dict]:
    out = []
    for e in svc.data("failed").get("executions") or []:
        if e.get("id") is None or e.get("pipeline_id") is None:
            continue
        out.append({"key": str(e["id"]), "label": f"{e['id']} · {e['pipeline_id']} · {e.get('tenant_id') or '?'} · "
                    f"{e.get('error') or ''}".rstrip(" ·"), **{k: e.get(k) for k in
                    ("id", "pipeline_id", "tenant_id", "error", "started_at")}})
    return out


@dataclass(frozen=True)
class Pick:
    kind: str
    fields: tuple[str, ...]
    items: Callable[[ServiceState], list[dict]]  # each item: key, label and the fields

    def listed(self, svc: ServiceState, where: dict[str, Any]) -> list[dict]:
        """The items now, keeping those whose fields equal `where`."""
        return [i for i in self.items(svc) if all(i.get(k) == v for k, v in where.items())]


PICKS: dict[str, Pick] = {
    "surfaces": Pick("conversion", ("surface", "disabled_with"), _surfaces),
    "pipelines": Pick("pipelines", ("pipeline", "enabled"), _pipelines),
    "flags": Pick("converge", ("name", "enabled", "toggled", "mode"), _flags),
    "stages": Pick("path_tracker", ("target_percent",), _stages),
    "failed_executions": Pick("data_pipeline", ("id", "pipeline_id", "tenant_id", "error", "started_at"), _failed),
}


def context(kind: str, svc: ServiceState | None) -> dict[str, Any]:
    """The values of CONTEXT[kind] in the service's last good readings (None: unknown)."""
    if svc is None:
        return {}
    if kind == "conversion":
        cfg = svc.data("config")
        return {"enabled": cfg.get("enabled"), "disabled_surfaces": cfg.get("disabled_surfaces")}
    if kind == "converge":
        return {"intake_mode": svc.data("intake").get("mode")}
    if kind == "path_tracker":
        ops = svc.data("ops")
        r = ops.get("rollout") or {}
        p = r.get("percent")
        return {"percent": p, "allowlist": r.get("allowlist"), "denylist": r.get("denylist"),
                "next_percent": next((s for s in STAGES if p is not None and s > p), None),
                "previous_percent": next((s for s in reversed(STAGES) if p is not None and s < p), None),
                "failed_alerts_1h": ops.get("recentFailedAlerts1h")}
    return {}


def _path(node: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


# --- templates: {name} placeholders in strings, bodies and command lines -----------------------

_FORMATTER = string.Formatter()


def placeholders(template: Any) -> set[str]:
    """Every {name} in a template (str, or lists and dicts of them); ValueError for a malformed one."""
    if isinstance(template, dict):
        return set().union(*(placeholders(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template)) if template else set()
    if not isinstance(template, str):
        return set()
    names = set()
    try:
        for _, name, spec, conv in _FORMATTER.parse(template):
            if name is None:
                continue
            if not name.isidentifier() or spec or conv:
                raise ValueError(f"bad placeholder {{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
                                 " (use {name})")
            names.add(name)
    except ValueError as e:
        raise ValueError(f"bad template {template!r}: {e}") from None
    return names


def render(template: Any, values: dict[str, Any], *, url: bool = False) -> Any:
    """Fill a template; a string that is exactly "{name}" takes the value itself (a number, a list)."""
    if isinstance(template, dict):
        return {k: render(v, values, url=url) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values, url=url) for v in template]
    if not isinstance(template, str):
        return template
    names = placeholders(template)
    for n in names:
        if values.get(n) is None:
            raise PlanError(f"{n} is unknown (no reading yet)")
    if len(names) == 1 and template == "{%s}" % next(iter(names)):
        return values[next(iter(names))]

    def text(v: Any) -> str:
        s = v if isinstance(v, str) else json.dumps(v)
        return quote(s, safe="") if url else s

    return template.format(**{n: text(values[n]) for n in names})


# --- the Action type --------------------------------------------------------------------------


class _Strict(Strict, frozen=True):
    """An action's table: unknown keys are errors, and a loaded action never changes."""


class Request(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    body: Any = None
    expect: tuple[int, ...] = ()  # the statuses that mean success (default: any 2xx)

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with /, got {self.path!r}")


class SsmPut(_Strict):
    pipeline: str
    enabled: bool


class Proof(_Strict):
    endpoint: str
    op: Literal["equals", "contains", "excludes", "absent", "decreased"]
    field: str | None = None
    rows: str | None = None
    match: dict[str, str] = {}
    value: Any = None
    propagation: Seconds = 0.0
    evidence: str | None = None

    def observe(self, data: dict, values: dict) -> tuple[bool | None, Any]:
        """(holds, value seen) in an endpoint's normalized data; holds is None when the data cannot tell."""
        node: Any = data
        if self.rows:
            want = {k: str(render(v, values)) for k, v in self.match.items()}
            listed = _path(data, self.rows)
            if not isinstance(listed, list):
                return None, None
            node = next((r for r in listed if all(str(r.get(k)) == w for k, w in want.items())), None)
            if self.op == "absent":
                return node is None, "absent" if node is None else "still listed"
            if node is None:
                return None, None
        value = _path(node, self.field) if self.field else node
        if value is None:
            return None, None
        expected = render(self.value, values)
        if self.op == "equals":
            return value == expected, value
        if self.op in ("contains", "excludes"):
            return (expected in value) == (self.op == "contains"), value
        return value == 0 or value < expected, value  # decreased


class Action(_Strict):
    id: str
    title: str
    short: str = ""
    kind: str = ""
    service: str | None = None  # a configured service name (config actions); built-ins bind by kind
    key: str | None = None
    dangerous: bool = False
    hidden: bool = False
    runbook: str = ""
    line: str = ""
    # the quoted runbook line is shown with the real target: its example item (`daily-digest`) becomes the
    # picked one, its example base URL (`http://127.0.0.1:7655`) the service's; credentials are never shown
    line_item: str | None = None
    line_base: str | None = None
    inverse: str | None = None
    pick: str | None = None
    each: str | None = None
    where: dict[str, Any] = {}
    request: Request | None = None
    ssm: SsmPut | None = None
    command: tuple[str, ...] | None = None
    timeout: Seconds = 60.0  # for a command line
    proves: Proof | None = None

    def __post_init__(self) -> None:
        if (self.request is None) == (self.command is None):
            raise ValueError("needs exactly one of request or command")
        if self.command is not None and not self.command:
            raise ValueError("command must not be empty")
        if self.pick and self.each:
            raise ValueError("pick and each exclude each other")
        for key in (self.pick, self.each):
            if key and key not in PICKS:
                raise ValueError(f"unknown pick list {key!r} (one of {', '.join(PICKS)})")

    @property
    def items_from(self) -> str | None:
        return self.pick or self.each

    def names(self) -> set[str]:
        """The placeholders this action may use."""
        pick = PICKS[self.items_from].fields if self.items_from else ()
        return set(GLOBAL) | set(CONTEXT.get(self.kind, ())) | set(pick)

    def templates(self) -> dict[str, Any]:
        """Every templated part, by its key in the config (for errors that name it)."""
        out: dict[str, Any] = {}
        if self.request:
            out.update({"request.path": self.request.path, "request.body": self.request.body})
        if self.ssm:
            out["ssm.pipeline"] = self.ssm.pipeline
        if self.command:
            out.update({f"command[{i}]": a for i, a in enumerate(self.command)})
        if self.proves:
            out.update({"proves.value": self.proves.value, "proves.match": self.proves.match})
        return out


# --- loading: built-ins and the config's [[actions]], checked at config load --------------------


@functools.cache
def _builtin_table() -> tuple[dict, ...]:
    return tuple(shipped_toml.load(BUILTIN)["actions"])


def builtin_actions() -> list[Action]:
    """The shipped actions as data, before any config (the keymap reads their keys)."""
    return [decode(t, Action, str(BUILTIN), prefix=f"actions[{i}]") for i, t in enumerate(_builtin_table())]


def toggle_for(kind: str, name: str, svc: ServiceState | None) -> tuple[str, str | None]:
    """The action that flips one row of the kill-switch table: (action id, item key)."""
    if kind == "conversion":
        on = svc.data("config").get("enabled") if svc else None
        return ("conversion.disable_all" if on is not False else "conversion.enable"), None
    if kind == "pipelines":
        row = next((i for i in _pipelines(svc) if i["key"] == name), {}) if svc else {}
        return ("pipelines.flip_switch" if row.get("enabled") is not False else "pipelines.enable_switch"), name
    if kind == "converge":
        return "converge.toggle_flag", name
    raise PlanError(f"no switch action for a {kind} service")


def load_actions(cfg: Config) -> dict[str, Action]:
    """Every action by id; ConfigError `file: actions[i] (id).key: problem` for the first bad one."""
    from console.promql import check  # the PromQL parser is heavy: only loaded here

    kinds = {s.name: s.kind for s in cfg.services}
    found: dict[str, Action] = {}
    where: dict[str, str] = {}
    tables = [(str(BUILTIN), i, t) for i, t in enumerate(_builtin_table())]
    tables += [(cfg.source_path, i, t) for i, t in enumerate(cfg.actions)]
    for source, i, table in tables:
        named = f" ({table['id']})" if isinstance(table, dict) and isinstance(table.get("id"), str) else ""
        here = f"{source}: actions[{i}]{named}"
        if isinstance(table, dict) and table.get("service") in kinds and "kind" not in table:
            table = {**table, "kind": kinds[table["service"]]}
        action = decode(table, Action, source, prefix=f"actions[{i}]{named}")
        _check(action, here, kinds, found, check)
        found[action.id] = action
        where[action.id] = here
    for a in found.values():
        if a.inverse:
            _check_inverse(a, found, where[a.id])
    return found


def _check(a: Action, here: str, kinds: dict[str, str], found: dict, check: Callable[[str], None]) -> None:
    if a.id in found:
        raise ConfigError(f"{here}.id: duplicate action id {a.id!r}")
    if a.service is not None and a.service not in kinds:
        raise ConfigError(f"{here}.service: no service named {a.service!r}")
    if not a.kind:
        raise ConfigError(f"{here}.service: a config action needs service (a configured service name)")
    if a.items_from and PICKS[a.items_from].kind != a.kind:
        raise ConfigError(f"{here}.pick: {a.items_from!r} lists {PICKS[a.items_from].kind} items, "
                          f"not {a.kind}")
    known = a.names()
    for key, tpl in a.templates().items():
        try:
            used = placeholders(tpl)
        except ValueError as e:
            raise ConfigError(f"{here}.{key}: {e}") from None
        unknown = sorted(used - known)
        if unknown:
            raise ConfigError(f"{here}.{key}: unknown placeholder {{{unknown[0]}}} (known: {', '.join(sorted(known))})")
    if a.proves and a.proves.evidence:
        names = set(_EVIDENCE_NAME.findall(a.proves.evidence)) - {"job", "since"}
        if names - known:
            raise ConfigError(f"{here}.proves.evidence: unknown placeholder ${sorted(names - known)[0]}")
        try:
            check(evidence_expr(a.proves.evidence, {n: "x" for n in names}, "job", 300))
        except ValueError as e:
            raise ConfigError(f"{here}.proves.evidence: {e}") from None


def _check_inverse(a: Action, found: dict[str, Action], here: str) -> None:
    inv = found.get(a.inverse)
    if inv is None:
        raise ConfigError(f"{here}.inverse: no action {a.inverse!r}")
    if inv.kind != a.kind:
        raise ConfigError(f"{here}.inverse: {a.inverse!r} acts on {inv.kind}, not {a.kind}")
    # the inverse is filled with this action's values: it may use only names this one has
    missing = sorted(set().union(*(placeholders(t) for t in inv.templates().values())) - a.names())
    if missing:
        raise ConfigError(f"{here}.inverse: {a.inverse!r} needs {{{missing[0]}}}, which {a.id!r} does not capture")


def evidence_expr(expr: str, values: dict[str, Any], job: str, since: float) -> str:
    """The evidence PromQL with $job, $since (a duration) and picked fields filled in."""
    subst = {**{k: str(v) for k, v in values.items()}, "job": job, "since": f"{max(1, int(since))}s"}
    return _EVIDENCE_NAME.sub(lambda m: subst.get(m.group(1), m.group(0)), expr)


def evidence_exprs(actions: dict[str, Action]) -> list[str]:
    """Every evidence expression with dummy values, so the engine keeps the series they read."""
    return [evidence_expr(a.proves.evidence, {n: "x" for n in a.names()}, "x", 300)
            for a in actions.values() if a.proves and a.proves.evidence]


def action_rows(actions: dict[str, Action]) -> list[dict]:
    """The actions as plain data, for viewers and the command registry."""
    return [{"id": a.id, "title": a.title, "short": a.short, "key": a.key, "kind": a.kind, "service": a.service,
             "hidden": a.hidden, "dangerous": a.dangerous, "runbook": a.runbook} for a in actions.values()]
