"""Live rewind: the display moved back over the session's own recording while the engine keeps running underneath."""

from __future__ import annotations

from dataclasses import dataclass, replace

from console.recording.replay import Replay, drive_async, landing, parse_instant
from console.state import ConsoleState


@dataclass(frozen=True)
class RewindState:
    """What the header says while rewound: the instant shown, how far behind now, and what is firing now."""

    at: float
    now: float
    firing_now: tuple[str, ...]

    @property
    def behind(self) -> float:
        return max(0.0, self.now - self.at)


class Rewind:
    """A second Replay over the file the live session is writing, driven to the requested instant."""

    def __init__(self, path: str) -> None:
        self.replay = Replay(path)

    @property
    def position(self) -> float | None:
        return self.replay.position

    def close(self) -> None:
        self.replay.close()

    async def to(self, target: float, exact: bool = False) -> float:
        """Show the recording at `target` (the second it names unless exact), clamped to what is recorded."""
        self.replay.refresh()  # the live edge moved since the last rewind
        at = min(max(target if exact else landing(target), self.replay.start), self.replay.end)
        await drive_async(self.replay.seek_to(at))
        return self.replay.position

    def target(self, spec: dict, live_now: float) -> tuple[float | None, bool]:
        """(instant, exact) a rewind command asks for: by seconds from where the display is, an event jump, or a
        typed time (HH:MM[:SS], -15m from now, an RFC3339 time). None: nothing there (no earlier/later event)."""
        here = self.replay.position if self.replay.position is not None else live_now
        if "by" in spec:
            return here + float(spec["by"]), False
        if "jump" in spec:
            return self.replay.jump_target(int(spec["jump"])), True
        self.replay.refresh()  # `-15m` is from now, as the header's REWIND −12m counts
        return parse_instant(str(spec["goto"]), self.replay.start, self.replay.end, here=live_now), False

    def shown(self, live: ConsoleState) -> ConsoleState:
        """The rewound state as the display shows it: with the offset and what fires now, so no page is hidden."""
        state = self.replay.engine.state
        names = tuple(dict.fromkeys(r.name for r in live.firing))
        return replace(state, rewind=RewindState(state.ts, live.ts, names))
