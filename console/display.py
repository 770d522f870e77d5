"""Where one display is in time: live, or rewound over the session's own recording (its own `Rewind`)."""

from __future__ import annotations

import math
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Callable

from console.clock import utc_iso
from console.facade import failed, ok
from console.state import ConsoleState

GOTO_MAX = 64  # characters of a typed time: anything longer is not one


class Display:
    """One display's rewind, moved by the `rewind` command: the in-process screen's (Session.display) or an attached
    viewer's on the collector (console/remote/rewinds.py). Each holds at most one `Rewind`, opened on the first
    step back and closed on live; `on_change` is called when what the display shows changed (the in-process screen
    republishes; a viewer is answered with the state instead)."""

    def __init__(self, session, on_change: Callable[[], None] | None = None) -> None:
        self.session = session  # its recorder (the file rewound over) and its engine (what is live)
        self.rewind = None  # console.rewind.Rewind while rewound (its position is None until the first seek lands)
        self._on_change = on_change or (lambda: None)

    @property
    def rewound(self) -> bool:
        """Rewound, or about to be (a first seek running): changes are refused from the first key on."""
        return self.rewind is not None

    @property
    def at(self) -> float | None:
        """The instant shown; None: live."""
        return None if self.rewind is None else self.rewind.position

    def shown(self, live: ConsoleState) -> ConsoleState:
        """What this display shows while `live` is the newest state."""
        rewind = self.rewind
        return rewind.shown(live) if rewind is not None and rewind.position is not None else live

    @asynccontextmanager
    async def instant(self):
        """(replay engine, instant) while rewound, held under the Rewind's lock (no seek rebuilds the engine while it
        is read); None when live."""
        rewind = self.rewind
        if rewind is not None and rewind.position is not None:
            async with rewind.lock:
                if rewind is self.rewind and rewind.position is not None:
                    await rewind.ready()  # the rewound display came from recorded states: its engine, built now
                    yield rewind.engine, rewind.position
                    return
        yield None

    async def close(self) -> None:
        """Back to live without a word (the session or the viewer is going away)."""
        rewind, self.rewind = self.rewind, None
        if rewind is not None:
            async with rewind.lock:  # a seek still running in its thread finishes first
                rewind.close()

    async def live(self) -> dict:
        if self.rewind is not None:
            rewind, self.rewind = self.rewind, None
            self._on_change()  # live at once; a seek still running is let finish, then closed
            async with rewind.lock:
                rewind.close()
        self._on_change()
        return ok("live")

    async def move(self, cmd: dict) -> dict:
        """The `rewind` command: `by` seconds, `jump` ±1 (rule or incident event), `goto` a typed time, or `live`.
        The seek runs in a worker thread (console/rewind.py); steps sent meanwhile wait their turn on its lock."""
        if cmd.get("live"):
            return await self.live()
        try:
            spec = _spec(cmd)
        except ValueError as e:  # one line, and nothing opened
            return failed(str(e))
        recorder = self.session.recorder
        if recorder is None:
            return failed("Rewind reads this session's recording: recording is off (record = false)")
        from console.recording.format import RecordingError
        from console.rewind import Rewind

        await recorder.flush()  # the file holds everything up to now
        rewind = self.rewind
        if rewind is None:
            try:
                rewind = Rewind(str(recorder.path))
            except RecordingError as e:
                return failed(f"Cannot rewind yet: {e}")
            self.rewind = rewind  # a second step sent during this seek waits for it on the same lock
        answer, go_live = None, False
        try:
            async with rewind.lock:
                if rewind is not self.rewind:  # returned to live while this request waited
                    return ok("live")
                now = self.session.engine.state.ts
                try:
                    target, exact = await rewind.target(spec, now)
                    if target is None:
                        answer = failed("No earlier rule transition or incident event" if spec.get("jump", 0) < 0
                                        else "No later rule transition or incident event")
                    elif target >= now:  # forward past the newest tick: that is live
                        go_live = True
                    else:
                        at = await rewind.to(target, exact)
                        answer = ok(f"rewound to {utc_iso(at)}", at=at)
                except ValueError as e:
                    answer = failed(str(e))
        except Exception:
            if rewind is self.rewind and rewind.position is None:  # a first seek that broke holds nothing open
                await self.close()
            raise
        if go_live:
            return await self.live()
        if rewind is not self.rewind:  # End or Esc came while the seek ran
            return ok("live")
        if rewind.position is None:  # a first rewind that found nothing: nothing to show, stay live
            await self.live()
            return answer
        self._on_change()
        return answer


def _spec(cmd: dict) -> dict:
    """The one step a rewind command asks for, checked: whatever came over the network is refused in one line."""
    if "by" in cmd:
        by = cmd["by"]
        if isinstance(by, bool) or not isinstance(by, (int, float)) or not math.isfinite(by):
            raise ValueError("rewind: `by` takes a number of seconds")
        return {"by": float(by)}
    if "jump" in cmd:
        if cmd["jump"] not in (-1, 1) or isinstance(cmd["jump"], bool):
            raise ValueError("rewind: `jump` takes -1 or 1")
        return {"jump": int(cmd["jump"])}
    if "goto" in cmd:
        if not isinstance(cmd["goto"], str) or not 0 < len(cmd["goto"]) <= GOTO_MAX:
            raise ValueError("rewind: `goto` takes a time (HH:MM[:SS], -15m, or an RFC3339 time)")
        return {"goto": cmd["goto"]}
    raise ValueError("rewind: expected by, jump, goto or live")


def at_now(state: ConsoleState, live: ConsoleState) -> ConsoleState:
    """A rewound state as a viewer shows it beside its live stream: the offset, what fires now (a new page is never
    hidden), who watches and whether the collector is still there (console/remote/client.py)."""
    from console.rewind import beside

    return replace(beside(state, live), viewers=live.viewers, link=live.link)
