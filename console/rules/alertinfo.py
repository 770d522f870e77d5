"""A rule-file alert's incident fields: rendered labels and annotations, severity, service, runbook."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_SEVERITY_MAP = {"critical": "P1", "page": "P1", "error": "P2", "high": "P2",
                        "warning": "P3", "warn": "P3", "medium": "P3", "info": "P4", "low": "P4",
                        "none": "P4", "p1": "P1", "p2": "P2", "p3": "P3", "p4": "P4"}
UNMAPPED_SEVERITY = "P3"


@dataclass
class AlertContext:
    """What every rule file's alert is rendered with."""

    services_by_job: dict[str, str] = field(default_factory=dict)  # job label → service name
    severity_map: dict[str, str] = field(default_factory=dict)  # the config's, over the defaults
    external_labels: dict[str, str] = field(default_factory=dict)

    def severity(self, label: str) -> str:
        key = label.strip().lower()
        custom = {k.lower(): v for k, v in self.severity_map.items()}
        return custom.get(key) or DEFAULT_SEVERITY_MAP.get(key) or UNMAPPED_SEVERITY


def _expand(tmpl, labels: dict[str, str], value: float, ext: dict[str, str]) -> str:
    """A template that fails on this alert's data reads as Prometheus writes it, never blank."""
    from .gotemplate import TemplateError

    try:
        return tmpl.render(labels, value, ext)
    except TemplateError as e:
        return f"<error expanding template: {e}>"


def render_alert(rule, labels: dict[str, str], value: float, ctx: AlertContext) -> dict:
    """Labels as Prometheus gives the alert (result labels + rendered rule labels + alertname)
    and the annotations rendered with them (a failing one as `<error expanding template: …>`)."""
    # Both see the result's own labels ($labels), as rules/alerting.go renders them.
    ext = ctx.external_labels
    out = {k: v for k, v in labels.items() if k != "__name__"}
    for name, tmpl in rule.labels:
        out[name] = _expand(tmpl, labels, value, ext)
    out["alertname"] = rule.name
    out = {k: v for k, v in out.items() if v != ""}
    ann = {name: _expand(tmpl, labels, value, ext) for name, tmpl in rule.annotations}
    return {
        "labels": out,
        "service": ctx.services_by_job.get(out.get("job", ""), ""),
        "severity": ctx.severity(out.get("severity", "")),
        "summary": ann.get("summary") or ann.get("description") or ann.get("message") or "",
        "description": ann.get("description", "") if ann.get("summary") else "",
        "runbook": ann.get("runbook_url") or ann.get("runbook") or "",
        "annotations": ann,
    }
