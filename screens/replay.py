"""`opsconsole replay PATH`: the same dashboard driven by a recording, with a timeline and the replay keys."""

from __future__ import annotations

import asyncio
from collections import deque

from console.clock import WallClock, hms
from console.recording.replay import Replay, landing
from console.replay_session import ReplaySession
from widgets.bindings import install
from widgets.footer import KeysFooter
from widgets.replay_timeline import ReplayTimeline

from .app import OpsApp
from .dashboard import Dashboard
from .replay_goto import GotoScreen

SPEEDS = (1, 2, 5, 10, 60, 600, None)  # None: as fast as this machine goes
FRAME = 0.1  # seconds of real time between playback frames
WORK = 0.08  # of which at most this much replaying: keys and repaints stay responsive
PLAY_FORWARD = 300.0  # a jump forward up to this far is played tick by tick; further (or back) is a seek
RATE_OVER = 3.0  # real seconds the speed readout is measured over: ticks are whole seconds of recording
BEHIND = 1.0  # real seconds of playback behind its cursor before the readout says how fast it really goes
FOLLOW_EVERY = 1.0  # real seconds between looks at a file still being recorded


class ReplayScreen(Dashboard):
    """The dashboard, a timeline under it, and keys that move through the recording."""

    SCOPES = ("replay", "dashboard", "incident_table", "panels")

    def __init__(self, replay: ReplaySession, services_by_kind: dict[str, str], production: bool = False) -> None:
        super().__init__(services_by_kind, production)
        self.replay = replay  # the replay façade: moves through the recording; refuses every change
        self.playing = False
        self.speed = 0  # index into SPEEDS
        self.note = ""
        self._target: float | None = None
        self._busy = False
        self._cursor = replay.start_ts  # where playback is, between recorded ticks
        self._wall = WallClock()
        self._last_frame = self._wall.monotonic()
        self._progress: deque[tuple[float, float]] = deque()  # (real time, position) of recent frames
        self.following = False  # at the live edge of a file still being recorded: move with it
        self._grown = False  # the file grew while open: it is being recorded
        self._moving = asyncio.Lock()  # one seek or play at a time: they share the replay's queue

    def compose(self):
        for widget in super().compose():
            if isinstance(widget, KeysFooter):
                yield ReplayTimeline(self.replay.start_ts, self.replay.end_ts, id="timeline")
            yield widget

    async def on_mount(self) -> None:
        install(self, "replay")
        timeline = self.query_one(ReplayTimeline)
        timeline.set_marks(await asyncio.to_thread(self.replay.marks))
        self.go(self.replay.start_ts)
        self.set_timer(FRAME, self._frame)
        self.set_timer(FOLLOW_EVERY, self._follow)

    @property
    def active_bindings(self):
        """The footer's keys with the replay's own first: a narrow footer cuts the panel's, never these."""
        keys = super().active_bindings
        ours = {k: b for k, b in keys.items() if (b.binding.id or "").startswith("replay.")}
        return {**ours, **{k: b for k, b in keys.items() if k not in ours}}

    def show(self, state) -> None:
        super().show(state)
        self._show_timeline()

    def _show_timeline(self) -> None:
        if not self.is_mounted:
            return
        speed = SPEEDS[self.speed]
        shown = "max" if speed is None else f"{speed}×"
        rate = self._rate()
        behind = speed is not None and self.replay.position is not None and \
            self._cursor - self.replay.position > BEHIND * speed + 1
        if self.playing and rate is not None and (speed is None or behind):
            shown += f" (≈{rate:.2g}×)" if rate < 10 else f" (≈{rate:.0f}×)"
        note = self.note or ("following the recording as it is written" if self.following and self._grown else "")
        self.query_one(ReplayTimeline).show(self.replay.position, self.playing, shown, note)

    def _rate(self) -> float | None:
        """Recorded seconds per real second over the last RATE_OVER s; None until a second of it is measured
        (a frame moves by whole ticks or not at all: one frame's rate is 0 or 10×)."""
        if len(self._progress) < 2 or self._progress[-1][0] - self._progress[0][0] < 1.0:
            return None
        (t0, p0), (t1, p1) = self._progress[0], self._progress[-1]
        return (p1 - p0) / (t1 - t0)

    # --- moving ---------------------------------------------------------------------------

    def go(self, target: float, exact: bool = False) -> None:
        """Show the recording at `target` (clamped to it), the second it names unless `exact` (a recorded event's
        instant); the newest request wins while one runs."""
        self._target = min(max(target if exact else landing(target), self.replay.start_ts), self.replay.end_ts)
        self._progress.clear()  # a jump is not playback speed
        if not self._busy:
            self._busy = True
            self.run_worker(self._go(), group="replay-go")

    async def _go(self) -> None:
        try:
            async with self._moving:
                await self._go_locked()
        finally:
            self._busy = False
            self.note = ""
            self._show_timeline()

    async def _go_locked(self) -> None:
        while self._target is not None:
            target, self._target = self._target, None
            here = self.replay.position
            if here is not None and here < target <= here + PLAY_FORWARD:
                await self._play_to(target)
            else:
                self.note = f"seeking to {hms(target)}…"
                self._show_timeline()
                await self.replay.seek(target)
            self._cursor = self.replay.position

    async def _play_to(self, target: float) -> None:
        while self.replay.position is None or self.replay.position < self._tick_before(target):
            deadline = self._wall.monotonic() + WORK
            before = self.replay.position
            await self.replay.play(target, lambda: self._wall.monotonic() > deadline)
            if self.replay.position == before:
                return  # nothing more recorded up to there
            await asyncio.sleep(0)  # let keys and repaints through

    def _tick_before(self, target: float) -> float:
        return min(target, self.replay.end_ts) - 1e-6

    async def _frame(self) -> None:
        """One playback frame: move the cursor by the real time elapsed times the speed, replay up to it."""
        try:
            now = self._wall.monotonic()
            elapsed, self._last_frame = now - self._last_frame, now
            if not self.playing or self._busy or self._moving.locked():
                return
            async with self._moving:
                await self._play_frame(now, elapsed)
        finally:
            self.set_timer(FRAME, self._frame)

    async def _play_frame(self, now: float, elapsed: float) -> None:
        speed = SPEEDS[self.speed]
        self._cursor = self.replay.end_ts if speed is None else self._cursor + elapsed * speed
        deadline = now + WORK
        await self.replay.play(self._cursor, lambda: self._wall.monotonic() > deadline)
        if self.replay.position is not None:
            self._progress.append((self._wall.monotonic(), self.replay.position))
            while self._progress[-1][0] - self._progress[0][0] > RATE_OVER:
                self._progress.popleft()
        if self.replay.position is not None and self.replay.position >= self.replay.end_ts:
            self.playing = False
            self.following = not self.replay.closed  # a file still being written: the display moves with it
            self.notify("End of the recording" + ("" if self.replay.closed else " so far: new ticks show as they"
                                                   " are recorded"), timeout=3)
        self._cursor = max(min(self._cursor, self.replay.end_ts), self.replay.position or self._cursor)
        if speed is None:
            self._cursor = self.replay.position
        self._show_timeline()

    # --- keys -----------------------------------------------------------------------------

    def action_toggle_play(self) -> None:
        if not self.playing and (self.replay.position or 0) >= self.replay.end_ts:
            self.notify("At the end of the recording: Home goes back to the start", timeout=3)
            return
        self.playing = not self.playing
        self._cursor = self.replay.position or self.replay.start_ts
        self._progress.clear()
        self._show_timeline()

    def action_step(self, seconds: float) -> None:
        self.following = False
        base = self._target if self._target is not None else (self.replay.position or self.replay.start_ts)
        self.go(base + seconds)

    def action_jump(self, direction: int) -> None:
        target = self.replay.jump_target(direction)
        if target is None:
            self.notify("No earlier incident or rule transition" if direction < 0 else
                        "No later incident or rule transition", timeout=3)
            return
        self.following = False
        self.go(target, exact=True)

    def action_speed(self, delta: int) -> None:
        self.speed = min(max(self.speed + delta, 0), len(SPEEDS) - 1)
        self._progress.clear()
        self._show_timeline()

    def action_edge(self, which: str) -> None:
        """Home: the start; End: the newest recorded tick, and on a file still being recorded, the live edge."""
        self.following = which == "end" and not self.replay.closed
        self.go(self.replay.start_ts if which == "start" else self.replay.end_ts)

    async def _follow(self) -> None:
        """A file still being recorded: the timeline grows as new ticks land, and the live edge moves on."""
        try:
            if self.replay.closed or self._moving.locked() or self._busy:
                return
            async with self._moving:  # the replay's reads share one connection: never beside a seek
                grew = await self.replay.refresh()
            if not grew or not self.is_mounted:  # the screen may be closing while the file grew
                return
            self._grown = True
            timeline = self.query_one(ReplayTimeline)
            timeline.set_end(self.replay.end_ts)
            async with self._moving:
                timeline.set_marks(await asyncio.to_thread(self.replay.marks))
            if self.following and not self.playing:
                self.go(self.replay.end_ts)
            self._show_timeline()
        finally:
            self.set_timer(FOLLOW_EVERY, self._follow)

    def action_goto(self) -> None:
        def chosen(text: str | None) -> None:
            if not text:
                return
            try:
                when = self.replay.parse_instant(text)
            except ValueError as e:
                self.notify(str(e), severity="error", timeout=5)
                return
            if not self.replay.start_ts - 1 <= when <= self.replay.end_ts + 1:
                self.notify(f"{text}: outside the recording ({hms(self.replay.start_ts)}–{hms(self.replay.end_ts)} UTC)",
                            severity="warning", timeout=5)
                return
            self.following = False
            self.go(when)

        self.app.push_screen(GotoScreen(), chosen)


class ReplayApp(OpsApp):
    """The console app on a recording: the same app and screens, on the replay façade."""

    def __init__(self, replay: Replay, layout: str | None = None, *, low_bandwidth: bool = False) -> None:
        super().__init__(ReplaySession(replay), autorun=False, layout=layout, low_bandwidth=low_bandwidth)

    @property
    def replay(self) -> ReplaySession:
        return self.session

    def make_dashboard(self) -> Dashboard:
        return ReplayScreen(self.session, self.view.services_by_kind, production=self.view.production)


def run_replay(args) -> int:
    """`opsconsole replay PATH`: RecordingError (one line, exit 2) before the screen opens."""
    from console.bandwidth import low_bandwidth

    app = ReplayApp(Replay(args.path), layout=getattr(args, "layout", None),
                    low_bandwidth=low_bandwidth(getattr(args, "low_bandwidth", None)))
    app.run()
    return app.return_code or 0
