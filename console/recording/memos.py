"""A recording's memos: each part's snapshot (event "memo:<part>"), and the older, unversioned memos read as v1.

The recorder stores a part whenever its snapshot changes; a replay seek restores the newest of each before the
instant, so rule for-durations, incidents, actions and a rollout stage's age are what they were live.
"""

from __future__ import annotations

from typing import Any

import json

from console.memento import SNAPSHOT_VERSION, Memento
from console.state import RuleState

from .format import MEMO, Recording

PARTS = ("figures", "alerts", "transitions", "incidents", "actions")
FORWARD = ("incidents", "actions")  # what playing forward cannot recompute: human steps, mitigations
CHUNKED = ("figures",)  # stored in a memo stream's chunks (it changes at nearly every tick), not as events
EMPTY: dict[str, dict[str, Any]] = {
    "figures": {"v": SNAPSHOT_VERSION, "stages": {}},
    "alerts": {"v": SNAPSHOT_VERSION, "alerts": []},
    "transitions": {"v": SNAPSHOT_VERSION, "states": {}},
    "incidents": {"v": SNAPSHOT_VERSION, "incidents": [], "seq": 0, "by_key": {}, "started": None, "results": []},
    "actions": {"v": SNAPSHOT_VERSION, "actions": []},
}


def last_before(rec: Recording, part: str, at: float) -> Any:
    """The newest stored snapshot of `part` strictly before `at` (as stored: read() it), or None."""
    sid = next((s.id for s in rec.streams.values() if s.kind == MEMO and s.endpoint == part), None)
    if sid is None:  # events (recordings made before memo streams, and the parts that rarely change)
        return rec.last_event(f"memo:{part}", at)
    entry = rec.last_entry(sid, round(at * 1000), lambda p: p.payload_text is not None and p.ts < at)
    return None if entry is None else json.loads(entry.payload_text)


def history(rec: Recording, parts: tuple[str, ...] = PARTS) -> list[tuple[float, str, Any]]:
    """(ts, "memo:<part>", snapshot) of every stored memo of these parts, oldest first (events and streams)."""
    out = rec.events(kinds=tuple(f"memo:{p}" for p in parts))
    for s in rec.streams.values():
        if s.kind == MEMO and s.endpoint in parts:
            for _, t0, _, data in rec.chunks(0, 2 ** 62, s.id):
                out += [(p.ts, f"memo:{s.endpoint}", json.loads(p.payload_text))
                        for p in rec.decode(s.id, t0, data) or () if p.payload_text is not None]
    return sorted(out, key=lambda e: e[0])


def snapshots(parts: dict[str, Memento]) -> dict[str, dict[str, Any]]:
    return {name: part.snapshot() for name, part in parts.items()}


def read(part: str, data: Any) -> dict[str, Any]:
    """A stored memo as the part's current snapshot version.

    Recordings made before the memento seam (no "v") stored the parts' private fields: the figures'
    `_stage_seen`, the alerts and actions as bare lists, the incidents without a version."""
    if isinstance(data, dict) and "v" in data:
        return data
    v = SNAPSHOT_VERSION
    if part == "figures":
        return {"v": v, "stages": dict(data.get("_stage_seen") or {})}
    if part == "alerts":
        return {"v": v, "alerts": list(data)}
    if part == "actions":
        return {"v": v, "actions": list(data)}
    if part == "incidents":
        return {"v": v, **data}
    raise ValueError(f"memo:{part}: not a memo this console knows")


def transitions_from(alerts: dict[str, Any]) -> dict[str, Any]:
    """The transitions memory implied by an alerts snapshot (older recordings stored only the alerts)."""
    states = {}
    for name, service, labels, _, fired, *_ in alerts["alerts"]:
        key = RuleState(name, service, "", "", None, labels, None, None, "", "", "", 0.0).key
        states[key] = "firing" if fired is not None else "pending"
    return {"v": SNAPSHOT_VERSION, "states": states}
