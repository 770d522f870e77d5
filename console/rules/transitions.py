"""Rule transitions: which alerts were pending or firing at the last evaluation, and what moved since."""

from __future__ import annotations

from typing import Any

from console.events import RuleTransition
from console.memento import SNAPSHOT_VERSION, check_version
from console.state import RuleState


class RuleTransitions:
    """Remembers each alert's last state (by key) to announce inactive ↔ pending ↔ firing moves."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}

    def step(self, rules: list[RuleState], now: float) -> list[RuleTransition]:
        """The moves from the last evaluation's alerts to these ones (each alert that came, went or fired)."""
        current = {r.key: r for r in rules if r.state in ("pending", "firing")}
        out = []
        for key, r in current.items():
            before = self._states.get(key, "inactive")
            if before != r.state:
                out.append(RuleTransition(key, r.name, r.service, r.severity, before, r.state, r.value, now, r))
        for key, before in self._states.items():
            if key not in current:
                name, service = key.split("{")[0].split("/", 1)
                out.append(RuleTransition(key, name, service, None, before, "inactive", None, now))
        self._states = {k: r.state for k, r in current.items()}
        return out

    def reset(self) -> None:
        self._states.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"v": SNAPSHOT_VERSION, "states": dict(self._states)}

    def restore(self, data: dict[str, Any]) -> None:
        check_version(data, "rule transitions")
        self._states = dict(data["states"])
