"""The incident record: its states, transitions (the timeline), runbook 004's timers and update cadence."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from console.clock import utc_iso

STATES = ("triggered", "acknowledged", "mitigating", "resolved", "documented")
OPEN = ("triggered", "acknowledged", "mitigating")
# Runbook 004's response targets, measured from the incident's (re)opening.
TARGETS = (("acknowledge", 300.0, ("acknowledged", "mitigating", "resolved", "documented")),
           ("assess", 600.0, ("mitigating", "resolved", "documented")),
           ("mitigate", 1800.0, ("resolved", "documented")))
UPDATE_EVERY = 900.0  # runbook 004: a stakeholder update every 15 minutes (P1/P2)
REOPEN_GRACE = 1800.0  # re-firing within 30 min of resolving reopens the incident
STARTUP_GRACE = 60.0  # after a restart, give the rules a minute before calling loaded incidents recovered
ALLOWED = {  # verb → (states it applies to, state it leads to)
    "acknowledge": (("triggered",), "acknowledged"),
    "unacknowledge": (("acknowledged",), "triggered"),
    "mitigating": (("triggered", "acknowledged"), "mitigating"),
    "resolve": (OPEN, "resolved"),
    "document": (("resolved",), "documented"),
}


class IncidentError(Exception):
    """A refused or failed incident action, phrased as one line for the user."""


def whoami() -> str:
    """user@host for attributions (OPSCONSOLE_USER overrides, e.g. in a shared war-room account)."""
    user = os.environ.get("OPSCONSOLE_USER")
    if user:
        return user
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        name = "unknown"
    return f"{name}@{socket.gethostname()}"


@dataclass
class Entry:
    """One timeline row: a state change, a firing/recovery, a value crossing, an action, an update sent."""

    ts: float
    kind: str  # state | firing | recovered | crossing | action | update | note
    text: str
    who: str | None = None
    state: str | None = None  # for kind "state": the state entered


@dataclass
class Timer:
    name: str
    elapsed: float
    target: float
    done: bool

    @property
    def over(self) -> bool:
        return self.elapsed > self.target


@dataclass
class Incident:
    id: str
    key: str  # the alert identity: one incident per key at a time
    title: str
    severity: str
    source: str  # rule | alertmanager | path_tracker
    service: str  # the console's service name (the rule's service, or the Alertmanager / path tracker source)
    runbook: str
    rule: str  # rule name, alertname, or "AlertDeliveryFailed"
    opened_at: float
    state: str = "triggered"
    summary: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    expr: str | None = None
    value: float | None = None
    recovered_at: float | None = None  # set while the condition no longer holds
    silence_id: str | None = None
    notes: dict[str, str] = field(default_factory=dict)  # resolution, root_cause, ...
    info: dict[str, str] = field(default_factory=dict)  # what the source says: Alertmanager state, error text...
    alert_labels: dict[str, str] = field(default_factory=dict)  # shared: the label set its id derives from
    shared: str | None = None  # shared: "shared", or "not shared: <why>" (None: not sent to Alertmanager)
    timeline: list[Entry] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def cycle_start(self) -> float:
        """When the current cycle began: the opening, or the last reopening."""
        for e in reversed(self.timeline):
            if e.kind == "state" and e.state == "triggered" and e.text.startswith(("opened", "reopened")):
                return e.ts
        return self.opened_at

    def reached(self, states: tuple[str, ...]) -> float | None:
        """First time in this cycle the incident entered one of `states`."""
        start = self.cycle_start
        for e in self.timeline:
            if e.ts >= start and e.kind == "state" and e.state in states:
                return e.ts
        return None

    @property
    def resolved_at(self) -> float | None:
        return self.reached(("resolved", "documented"))

    def timers(self, now: float) -> list[Timer]:
        start = self.cycle_start
        out = []
        for name, target, states in TARGETS:
            end = self.reached(states)
            if name == "acknowledge" and self.state == "triggered":
                end = None  # un-acknowledged (or its silence ended): nobody owns it now, the clock runs again
            if name == "mitigate" and self.recovered_at is not None and self.recovered_at >= start:
                end = min(end, self.recovered_at) if end is not None else self.recovered_at
            out.append(Timer(name, (end if end is not None else now) - start, target, end is not None))
        return out

    def next_update(self) -> float | None:
        """When the next stakeholder update is due (P1/P2 while open); None when none is owed."""
        if self.severity not in ("P1", "P2") or not self.is_open:
            return None
        start = self.cycle_start
        sent = [e.ts for e in self.timeline if e.kind == "update" and e.ts >= start]
        return max([start] + sent) + UPDATE_EVERY

    def to_json(self, now: float) -> dict[str, Any]:
        due = self.next_update()
        return {
            "id": self.id, "key": self.key, "title": self.title, "severity": self.severity,
            "source": self.source, "service": self.service, "rule": self.rule, "runbook": self.runbook,
            "state": self.state, "recovered": self.recovered_at is not None,
            "opened_at": utc_iso(self.opened_at), "summary": self.summary, "labels": self.labels,
            "value": self.value, "silence_id": self.silence_id, "shared": self.shared, "notes": self.notes,
            "info": self.info,
            "timers": {t.name: {"elapsed": round(t.elapsed, 1), "target": t.target, "done": t.done,
                                "over": t.over} for t in self.timers(now)},
            "next_update_in": None if due is None else round(due - now, 1),
            "transitions": [{"ts": utc_iso(e.ts), "kind": e.kind, "state": e.state, "who": e.who, "text": e.text}
                            for e in self.timeline],
        }
