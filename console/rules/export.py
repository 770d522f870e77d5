"""The shipped runbook rules, bound to the configured services, as a Prometheus rule file."""

from __future__ import annotations

from console import promql
from console.config.schema import Config

from .load import load_rules
from .unittest import fmt_duration


def prometheus_rules(cfg: Config) -> dict:
    """`groups:` one per service, each alert with its severity, service and runbook as Prometheus
    labels and annotations (rule files of the config are not re-exported: they are already files)."""
    groups: dict[str, list[dict]] = {}
    for r in load_rules(cfg.model_copy(update={"rule_files": []}), promql.check):
        if r.record:
            continue
        rule = {"alert": r.name, "expr": r.expr}
        if r.for_:
            rule["for"] = fmt_duration(r.for_)
        rule["labels"] = {"severity": r.severity, "service": r.service}
        ann = {}
        if r.summary:
            ann["summary"] = r.summary
        if r.runbook:
            ann["runbook"] = r.runbook
        if r.actions:
            ann["mitigations"] = ", ".join(r.actions)
        if ann:
            rule["annotations"] = ann
        groups.setdefault(r.service, []).append(rule)
    return {"groups": [{"name": f"opsconsole-{svc}", "rules": rules} for svc, rules in groups.items()]}
