"""Communication drafts: runbook 004's templates (and runbook 003's fields) filled from an incident."""

from __future__ import annotations

from console.clock import hms, utc_iso
from console.durations import format_duration
from .manager import Incident
from .playbooks import playbook_for

UNKNOWN = "<unknown>"
PATH_TRACKER_RUNBOOK = "003_ae6503292f0c1228.txt"

# Runbook 004 "Communication Templates", word for word; <Field> became {field}.
TEMPLATES = {
    "initial": (
        "[INCIDENT] {title} - {severity}\n"
        "Status: {status}\n"
        "Impact: {impact}\n"
        "Started: {started}\n"
        "Current Actions: {actions}\n"
        "ETA: {eta}\n"
        "Next Update: {next_update}"),
    "update": (
        "[UPDATE] {title} - {severity}\n"
        "Status: {status}\n"
        "Impact: {impact}\n"
        "Progress: {actions}\n"
        "Next Steps: {next_steps}\n"
        "ETA: {eta}\n"
        "Next Update: {next_update}"),
    "resolved": (
        "[RESOLVED] {title} - {severity}\n"
        "Status: RESOLVED\n"
        "Impact: Service fully restored\n"
        "Resolution: {resolution}\n"
        "Duration: {duration}\n"
        "Root Cause: {root_cause}\n"
        "Follow-up: Postmortem scheduled for {postmortem}"),
    "escalation": (
        "Requesting escalation for {incident_id}\n"
        "Severity: {severity}\n"
        "Current Status: {current_status}\n"
        "Actions Taken: {actions}\n"
        "Need Help With: {need_help}\n"
        "@oncall-manager"),
    # Runbook 003 "Incident communication template": its five fields.
    "path-tracker": (
        "time_utc: {time_utc}\n"
        "impact: {impact}\n"
        "symptom: {symptom}\n"
        "mitigation: {mitigation}\n"
        "next_update_eta: {next_update}"),
}
STATUS = {"triggered": "INVESTIGATING", "acknowledged": "INVESTIGATING", "mitigating": "MITIGATING",
          "resolved": "RESOLVED", "documented": "RESOLVED"}


class _Fields(dict):
    """Template fields: a missing or empty one renders as <unknown>, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return UNKNOWN


def templates_for(inc: Incident) -> list[str]:
    names = ["initial", "update", "resolved", "escalation"]
    if inc.runbook.startswith(PATH_TRACKER_RUNBOOK):
        names.append("path-tracker")
    return names


def actions_taken(inc: Incident) -> list[str]:
    """What was done, in order: the mitigations run (audit log) and the human state changes. An attempt that was
    refused (read-only, in flight) or cancelled did nothing: the timeline keeps it, a stakeholder draft does not."""
    out = []
    for e in sorted(inc.timeline, key=lambda e: e.ts):
        if e.kind == "action" and e.text.split(": ", 1)[-1].startswith(("refused", "cancelled")):
            continue
        if e.kind == "action" or (e.kind == "state" and e.who not in (None, "console", "alertmanager")):
            out.append(f"{hms(e.ts)} {e.text}" + (f" ({e.who})" if e.who else ""))
        elif e.kind == "state" and e.who == "alertmanager":
            out.append(f"{hms(e.ts)} {e.text}")
    return out


def fields(inc: Incident, now: float) -> _Fields:
    pb = playbook_for(inc.runbook)
    status = STATUS.get(inc.state, inc.state.upper())
    if inc.recovered_at is not None and inc.is_open:
        status += f" (alert cleared {hms(inc.recovered_at)} UTC, monitoring)"
    due = inc.next_update()
    end = inc.resolved_at if not inc.is_open and inc.resolved_at else now
    actions = actions_taken(inc)
    values = {
        "incident_id": inc.id,
        "title": inc.title,
        "severity": inc.severity,
        "status": status,
        "current_status": f"{status} since {hms(inc.cycle_start)} UTC" + (f"; {inc.summary}" if inc.summary else ""),
        "impact": inc.summary if pb.impact in ("", UNKNOWN) else pb.impact,
        "started": utc_iso(inc.opened_at),
        "time_utc": utc_iso(inc.opened_at),
        "actions": "; ".join(actions),
        "mitigation": "; ".join(a for a in actions if "acknowledged" not in a),
        "next_update": f"{utc_iso(due)} (in {format_duration(max(0.0, due - now))})" if due else "",
        "duration": format_duration(end - inc.opened_at) + ("" if not inc.is_open else " so far"),
        "resolution": inc.notes.get("resolution", ""),
        "root_cause": inc.notes.get("root_cause", ""),
        "postmortem": inc.notes.get("postmortem_date", ""),
        "symptom": inc.summary,
    }
    return _Fields({k: v for k, v in values.items() if v not in (None, "")})


def render(template: str, inc: Incident, now: float) -> str:
    """One draft, ready to paste: every field filled, or <unknown>."""
    return TEMPLATES[template].format_map(fields(inc, now))
