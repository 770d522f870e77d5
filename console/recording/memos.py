"""A recording's memos: each part's snapshot (event "memo:<part>"), and the older, unversioned memos read as v1.

The recorder stores a part whenever its snapshot changes; a replay seek restores the newest of each before the
instant, so rule for-durations, incidents, actions and a rollout stage's age are what they were live.
"""

from __future__ import annotations

from typing import Any

from console.memento import SNAPSHOT_VERSION, Memento
from console.state import RuleState

PARTS = ("figures", "alerts", "transitions", "incidents", "actions")
FORWARD = ("incidents", "actions")  # what playing forward cannot recompute: human steps, mitigations
EMPTY: dict[str, dict[str, Any]] = {
    "figures": {"v": SNAPSHOT_VERSION, "stages": {}},
    "alerts": {"v": SNAPSHOT_VERSION, "alerts": []},
    "transitions": {"v": SNAPSHOT_VERSION, "states": {}},
    "incidents": {"v": SNAPSHOT_VERSION, "incidents": [], "seq": 0, "by_key": {}, "started": None, "results": []},
    "actions": {"v": SNAPSHOT_VERSION, "actions": []},
}


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
