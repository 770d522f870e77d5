"""The recent mitigations, newest first: what the Activity panel lists and a recording carries."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from console.memento import SNAPSHOT_VERSION, check_version
from console.state import ActionRecord

KEEP = 50  # records kept (and shown in ConsoleState.actions)
_FIELDS = {f.name for f in fields(ActionRecord)}


class RecentActions:
    """The newest KEEP action records; `items` is the very list the console state shows."""

    def __init__(self) -> None:
        self.items: list[ActionRecord] = []

    def __iter__(self):
        return iter(self.items)

    def add(self, rec: ActionRecord) -> None:
        self.items.insert(0, rec)
        del self.items[KEEP:]

    def snapshot(self) -> dict[str, Any]:
        return {"v": SNAPSHOT_VERSION, "actions": [asdict(a) for a in self.items]}

    def restore(self, data: dict[str, Any]) -> None:
        check_version(data, "recent actions")
        # in place: the console state holds this list; a field a newer console added is left out
        self.items[:] = [ActionRecord(**{k: v for k, v in a.items() if k in _FIELDS}) for a in data["actions"]]
