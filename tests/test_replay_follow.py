"""Replay of a file another console is still recording (it follows the live edge), and the replay screen as a new
user finds it: seeks land on the second asked for, the speed readout, the footer's order, the Activity panel."""

from __future__ import annotations

import json

import pytest

from conftest import START, screen_text, start_watch
from console.clock import hms, utc_iso
from console.events import StatePublished
from console.recording.replay import Replay
from console.recording.writer import Recorder


def published(state) -> dict:
    doc = json.loads(json.dumps(state.to_json(), default=str))
    doc.pop("mode")
    return doc


def jitter(n: int) -> float:
    """A wall clock's tick: a few milliseconds late, by a different amount each second (never exactly 1 s apart)."""
    return 0.002 + (n * 37 % 17) / 1000


class Live:
    """The demo fleet on a virtual clock ticking every second with jitter, recorded, every published state kept."""

    def __init__(self, w, rec) -> None:
        self.w, self.rec, self.n = w, rec, 0
        self.states: dict[float, dict] = {}
        w.engine.hub.subscribe(StatePublished, lambda ev: self.states.__setitem__(ev.state.ts, published(ev.state)))

    async def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.n += 1
            self.w.clock.set(START + self.n + jitter(self.n))
            await self.w.engine.tick()
        await self.rec.flush()  # what the recorder's own loop does at least once a second

    async def close(self) -> None:
        await self.rec.stop()
        await self.w.engine.stop()
        await self.w.demo.stop()


async def _live(path) -> Live:
    w = await start_watch("error-spike", tick=1.0, metrics_interval=5.0)
    rec = await Recorder(w.engine, path).start()
    w.engine.reset()
    live = Live(w, rec)
    await live.run(150)  # past two minute boundaries: sealed chunks, and a minute still in the head table
    return live


async def test_a_replay_follows_a_file_still_being_recorded(tmp_path):
    live = await _live(tmp_path / "growing.opsrec")
    try:
        replay = Replay(str(tmp_path / "growing.opsrec"))
        try:
            assert not replay.closed
            first_end = replay.end
            assert first_end == max(live.states)
            for ts in sorted(live.states):
                replay.advance(ts)
                assert published(replay.state) == live.states[ts]
            assert not replay.refresh()  # nothing new yet
            await live.run(75)  # the rest of the minute that was half written, and the next
            assert replay.refresh() and replay.end == max(live.states) > first_end
            for ts in [t for t in sorted(live.states) if t > first_end]:
                replay.advance(ts)
                assert replay.position == ts
                assert published(replay.state) == live.states[ts], f"at +{ts - first_end:.0f}s past the old end"
            replay.seek(first_end + 30)  # a seek into what was recorded after opening
            shown = max(t for t in live.states if t <= first_end + 30)
            assert published(replay.state) == live.states[shown]
            assert replay.from_states and replay.skipped == []  # the live edge's half-written minutes included
        finally:
            replay.close()
    finally:
        await live.close()
    replay = Replay(str(tmp_path / "growing.opsrec"))
    try:
        assert replay.closed  # the recorder stopped: a replay no longer follows it
    finally:
        replay.close()


async def _until(pilot, cond, what: str, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def test_replay_screen_follows_lands_on_seconds_and_keeps_its_keys_first(tmp_path):
    from textual.widgets import Input

    from screens.replay import ReplayApp
    from widgets.activity import Activity
    from widgets.replay_timeline import ReplayTimeline

    live = await _live(tmp_path / "growing.opsrec")
    try:
        app = ReplayApp(Replay(str(tmp_path / "growing.opsrec")))
        async with app.run_test(size=(120, 40)) as pilot:
            ticks = sorted(live.states)
            await _until(pilot, lambda: app.replay.position == ticks[0], "the first tick")
            screen = app.screen
            timeline = screen.query_one(ReplayTimeline)

            # the footer: the replay's keys first, at 120 columns too
            await _until(pilot, lambda: "Play/pause" in screen_text(app).splitlines()[-1], "the footer")
            footer = screen_text(app).splitlines()[-1]
            assert "−10s" in footer and "+10s" in footer and "Play/pause" in footer and "Go to" in footer
            # the Activity panel offers no undo in a replay
            assert "undo" not in str(screen.query_one(Activity).border_subtitle) or \
                "nothing can be sent or undone" in str(screen.query_one(Activity).border_subtitle)
            assert "u undoes" not in screen_text(app)

            # g HH:MM:SS lands on the tick shown as that second (ticks are a few ms past it)
            target = ticks[100]
            await pilot.press("g")
            await _until(pilot, lambda: bool(app.screen.query(Input)), "the go-to prompt")
            app.screen.query_one(Input).value = hms(target)
            await pilot.press("enter")
            await _until(pilot, lambda: app.replay.position == target and not screen._busy, f"g {hms(target)}")
            assert hms(target) in timeline.status.text
            # ← and → move by ten seconds as shown, whatever the milliseconds
            for key, n in (("left", 90), ("left", 80), ("left", 70), ("right", 80), ("right", 90)):
                await pilot.press(key)
                await _until(pilot, lambda: app.replay.position == ticks[n] and not screen._busy, f"{key} to {n}")
                assert published(app.session.state) == live.states[ticks[n]]

            # End: the newest tick; more is recorded; the display follows it
            await pilot.press("end")
            await _until(pilot, lambda: app.replay.position == ticks[-1] and not screen._busy, "the end")
            await live.run(20)
            new_end = max(live.states)
            await _until(pilot, lambda: app.replay.position == new_end and not screen._busy, "the new live edge")
            assert published(app.session.state) == live.states[new_end]
            assert "following the recording as it is written" in timeline.status.text
            assert utc_iso(new_end)[11:16] in timeline.bar.text  # the timeline grew to the new end
    finally:
        await live.close()


async def test_the_speed_readout_says_the_speed_playback_keeps(tmp_path):
    from screens.replay import ReplayApp
    from widgets.replay_timeline import ReplayTimeline

    live = await _live(tmp_path / "rec.opsrec")
    await live.close()
    app = ReplayApp(Replay(str(tmp_path / "rec.opsrec")))
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: app.replay.position is not None and not app.screen._busy, "the first tick")
        screen = app.screen
        timeline = screen.query_one(ReplayTimeline)
        await pilot.press("plus")  # 2×
        await pilot.press("space")
        start = app.replay.position
        seen = []
        for _ in range(40):  # 2 s of real time
            await pilot.pause(0.05)
            seen.append(timeline.status.text)
        assert app.replay.position > start  # it plays
        assert all("2×" in s for s in seen)
        assert not any("≈0" in s for s in seen), [s for s in seen if "≈" in s][:3]
