"""Live rewind: the display moved back over the session's own recording while the engine keeps running underneath."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, replace

from console.recording.replay import Replay, drive, landing, parse_instant
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
    """A second Replay over the file the live session is writing, driven to the requested instant.

    A seek shows the recorded state at the target (the nearest whole document and the diffs after it: a few
    milliseconds); the replay's engine is brought there only when something reads it (`ready()`, or `engine`:
    a plot, the incident detail's values), since that rebuilds windows, keyframe, a minute of scrapes and one
    evaluation (~0.3 s of CPU). A recording without states (or a damaged one) seeks through the engine. Both run
    in a worker thread, never on the event loop. Whoever reads the replay (a seek, a jump target, the incident
    detail's values, a plot) holds `lock`, so only one thread touches it at a time; the display reads `shown()`,
    the state as of the last finished seek, never the engine a seek is rebuilding.
    """

    def __init__(self, path: str) -> None:
        self.replay = Replay(path)
        self.lock = asyncio.Lock()
        self._state: ConsoleState | None = None  # the rewound state as of the last finished seek

    @property
    def position(self) -> float | None:
        return None if self._state is None else self._state.ts

    @property
    def engine(self):
        """The replay's engine, at `position` (read it holding `lock`; `await ready()` first builds it in a worker
        thread, else it is built here, in the caller's thread)."""
        return self.replay.ensure_engine()

    async def ready(self) -> None:
        """Bring the replay's engine to `position` in a worker thread (a no-op when it is there). Hold `lock`."""
        await asyncio.to_thread(self.replay.ensure_engine)

    def close(self) -> None:
        self.replay.close()

    async def to(self, target: float, exact: bool = False) -> float:
        """Show the recording at `target` (the second it names unless exact), clamped to what is recorded.
        The caller holds `lock`."""
        def seek() -> ConsoleState:
            self.replay.refresh()  # the live edge moved since the last rewind
            at = min(max(target if exact else landing(target), self.replay.start), self.replay.end)
            drive(self.replay.seek_to(at))
            if self.replay.from_states:  # decoded for this seek: its own object
                return self.replay.state
            return copy.deepcopy(self.replay.state)  # the engine's: the next seek rebuilds it in place

        self._state = await asyncio.to_thread(seek)
        return self._state.ts

    async def target(self, spec: dict, live_now: float) -> tuple[float | None, bool]:
        """(instant, exact) a rewind command asks for: by seconds from where the display is, an event jump, or a
        typed time (HH:MM[:SS], -15m from now, an RFC3339 time). None: nothing there (no earlier/later event).
        The caller holds `lock`."""
        here = self.position if self.position is not None else live_now
        if "by" in spec:
            return here + float(spec["by"]), False
        if "jump" in spec:
            return await asyncio.to_thread(self.replay.jump_target, int(spec["jump"])), True

        def goto() -> float:
            self.replay.refresh()  # `-15m` is from now, as the header's REWIND −12m counts
            return parse_instant(str(spec["goto"]), self.replay.start, self.replay.end, here=live_now)

        return await asyncio.to_thread(goto), False

    def shown(self, live: ConsoleState) -> ConsoleState:
        """The rewound state as the display shows it: with the offset and what fires now, so no page is hidden."""
        return beside(self._state, live)


def beside(state: ConsoleState, live: ConsoleState) -> ConsoleState:
    """A rewound `state` shown while `live` is the newest: marked with how far behind it is and what fires now."""
    names = tuple(dict.fromkeys(r.name for r in live.firing))
    return replace(state, rewind=RewindState(state.ts, live.ts, names))
