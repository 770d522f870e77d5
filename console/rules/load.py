"""Rules as data: the shipped rule file plus the config's overrides, bound to each configured service."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from console import shipped_toml
from console.config.schema import Config, ConfigError, RuleConfig
from console.durations import parse_duration

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
    # Rules from Prometheus rule files (rule_files): bound to no service here; each alert's
    # service is the one whose job its `job` label names ("" when none: unassigned).
    record: bool = False
    keep_firing_for: float = 0.0
    labels: tuple = ()  # (name, Template): rendered per alert
    annotations: tuple = ()  # (name, Template)
    origin: str = ""  # 'file: group "g", rule N' for rule-file rules
    interval: float = 0.0  # a rule file group's `interval`: evaluated that often (0: every tick)
    query_offset: float = 0.0  # a rule file group's `query_offset`: queries look this far back


def shipped() -> list[dict]:
    """The shipped rules as tables (each call its own copies: callers merge overrides into them)."""
    return [{**r, "actions": list(r.get("actions", []))} if "actions" in r else dict(r) for r in _shipped()]


@functools.cache
def _shipped() -> tuple[dict, ...]:  # read once: the rules and the incident manager both start from them
    return tuple(shipped_toml.load(Path(__file__).with_name(SHIPPED))["rules"])


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
    """Bind every rule to each configured service of its kind; bad expressions fail here, naming the rule.

    Then the config's rule_files, group by group in file order (recording rules before the
    alerts that read them, as Prometheus evaluates a group).
    """
    return _toml_rules(cfg, check) + file_rules(cfg, check)


def file_rules(cfg: Config, check: Callable[[str], None]) -> list[Rule]:
    """The rules of the config's `rule_files`, resolved relative to the config file."""
    if not cfg.rule_files:
        return []
    from .promfile import RuleFileError, expand_paths, load_files  # and yaml: only a config with rule files needs it

    base = Path(cfg.source_path).parent if cfg.source_path != "<built-in>" else Path.cwd()
    try:
        groups = load_files(expand_paths(cfg.rule_files, base), check)
    except RuleFileError as e:
        raise ConfigError(f"{cfg.source_path}: rule_files: {e.problems[0]}"
                          + (f" (and {len(e.problems) - 1} more)" if len(e.problems) > 1 else "")) from None
    return [from_file_rule(r, g.interval or 0.0, g.query_offset) for g in groups for r in g.rules]


def from_file_rule(r, interval: float = 0.0, query_offset: float = 0.0) -> Rule:
    """A rule-file rule as the console's Rule; severity, runbook and summary are per alert."""
    return Rule(r.name, r.expr, r.for_, "", "", "", "", "", (),
                record=r.record, keep_firing_for=r.keep_firing_for, labels=r.labels,
                annotations=r.annotations, origin=r.where, interval=interval,
                query_offset=query_offset)


def _toml_rules(cfg: Config, check: Callable[[str], None]) -> list[Rule]:
    rules: list[Rule] = []
    for i, r in enumerate(_merge(shipped(), cfg.rules, cfg.source_path)):
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


def alert_context(cfg: Config):
    """What rule-file alerts are rendered with: services by job, severity map, external labels."""
    from .alertinfo import AlertContext

    return AlertContext({(s.job or s.name): s.name for s in cfg.services}, dict(cfg.severity_map),
                        dict(cfg.external_labels))
