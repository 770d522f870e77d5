"""What opens an incident, as specs: a firing rule, an Alertmanager alert, a failed path-tracker delivery."""

from __future__ import annotations

from console.clock import parse_iso
from .playbooks import GENERAL, PLAYBOOKS
from console.state import RuleState, ServiceState

DELIVERY_RUNBOOK = "003_ae6503292f0c1228.txt#Response playbook"
DELIVERY_WINDOW = 3600.0  # the runbook's "Retry failed (1h)": older failures are history, not incidents
AM_SEVERITY = {"critical": "P1", "page": "P1", "error": "P2", "high": "P2", "major": "P2",
               "warning": "P3", "medium": "P3", "minor": "P3", "info": "P4", "low": "P4", "none": "P4"}


def fresh(svc: ServiceState, endpoint: str) -> float | None:
    """When the endpoint's last poll succeeded, if that was its last poll; None while it fails or never ran."""
    ep = svc.endpoints.get(endpoint)
    if ep is None or ep.error is not None or ep.last_ok is None or ep.last_ok != ep.last_poll:
        return None
    return ep.last_ok


def _label_suffix(labels: dict[str, str], skip: tuple[str, ...]) -> str:
    lbl = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in skip)
    return f"{{{lbl}}}" if lbl else ""


def rule_spec(rule: RuleState) -> dict:
    extra = {k: v for k, v in rule.labels.items() if k not in ("job", "instance", "alertname", "severity")}
    where = "".join(f" {k}={v}" for k, v in sorted(extra.items()))
    # A rule file's alert whose job is no configured service is still an incident: unassigned.
    service = rule.service or "unassigned"
    return {"key": rule.key, "title": f"{rule.name} on {service}{where}", "severity": rule.severity,
            "source": "rule", "service": rule.service, "runbook": rule.runbook, "rule": rule.name,
            "summary": rule.summary, "labels": dict(rule.labels), "expr": rule.expr, "value": rule.value,
            "info": {"description": rule.description} if rule.description else {}}


def severity_of(labels: dict[str, str]) -> str:
    sev = (labels.get("severity") or labels.get("priority") or "").strip()
    if sev.upper() in ("P1", "P2", "P3", "P4"):
        return sev.upper()
    return AM_SEVERITY.get(sev.lower(), "P3")


def alertmanager_spec(service: str, alert: dict, runbooks: dict[str, str]) -> dict:
    """One incident per label set; the playbook of a rule of the same name, or the one the alert names."""
    labels = alert["labels"]
    ann = alert.get("annotations") or {}
    name = labels.get("alertname", "alert")
    named = ann.get("runbook") or ann.get("runbook_url") or ""
    runbook = named if named in PLAYBOOKS else runbooks.get(name, GENERAL)
    where = labels.get("service") or labels.get("job") or labels.get("instance") or service
    return {"key": f"{name}/{service}{_label_suffix(labels, ('alertname',))}", "title": f"{name} on {where}",
            "severity": severity_of(labels), "source": "alertmanager", "service": service, "runbook": runbook,
            "rule": name, "summary": ann.get("summary") or ann.get("description") or "", "labels": dict(labels),
            "info": {"state": alert.get("state") or "?", "starts_at": alert.get("starts_at") or "?",
                     **{f"annotation {k}": v for k, v in sorted(ann.items())}}}


def delivery_spec(service: str, item: dict, now: float) -> dict | None:
    """A failed delivery of the last hour; None for anything else."""
    if item.get("status") != "failed" or not item.get("id"):
        return None
    try:
        created = parse_iso(item["createdAt"]) if item.get("createdAt") else now
    except ValueError:
        created = now
    if now - created > DELIVERY_WINDOW:
        return None
    error = item.get("errorText") or "no error text"
    return {"key": f"AlertDeliveryFailed/{service}{{id={item['id']}}}",
            "title": f"Alert delivery {item['id']} failed ({item.get('kind') or '?'})",
            "severity": "P3", "source": "path_tracker", "service": service, "runbook": DELIVERY_RUNBOOK,
            "rule": "AlertDeliveryFailed", "summary": f"{error} after {item.get('attempts') or '?'} attempts",
            "labels": {"id": str(item["id"]), "kind": str(item.get("kind") or "")},
            "info": {"created_at": str(item.get("createdAt") or "?"), "error": error,
                     "attempts": str(item.get("attempts") or "?")}}
