"""What a steady second costs: one tick per beat, hourly and 5-minute figures scraped every 5 s, a steady table
left alone — and none of it skips what matters (a flipped switch is shown at once, a config's interval wins)."""

from __future__ import annotations

import asyncio

import pytest
from textual.widget import Widget

from console.clock import VirtualClock, WallClock
from console.demo import Demo
from console.engine import Engine
from console.events import StatePublished
from screens.app import OpsApp
from tests.conftest import START, screen_text
from tests.fake_facade import FakeFacade, state


async def scrapes_in(seconds: int, **overrides) -> dict[str, int]:
    """/metrics requests each simulated service received while an engine ticked `seconds` times, a second apart."""
    clock = VirtualClock(START)
    demo = Demo(clock, scenario="normal", seed=1)
    cfg = await demo.start(tick=1.0)
    if overrides:
        cfg = cfg.model_copy(update={"services": [s.model_copy(update=overrides.get(s.name, {})) for s in cfg.services]})
    engine = Engine(cfg, clock, scenario="normal")
    try:
        await engine.start()
        await engine.tick()
        for _ in range(seconds):
            clock.advance(1.0)
            await engine.tick()
        return {svc: n for (svc, path), n in demo.fleet.requests.items() if path == "/metrics"}
    finally:
        await engine.stop()
        await demo.stop()


async def test_windowed_kinds_are_scraped_every_5s_and_conversion_every_second():
    got = await scrapes_in(20)
    assert got["conversion"] == 21  # its 1-minute rate and the last event's age: every tick
    for kind in ("pipelines", "converge", "path_tracker", "data_pipeline"):
        assert got[kind] == 5, (kind, got)  # 5-minute and hourly windows: at 0, 5, 10, 15 and 20 s


async def test_a_configured_metrics_interval_still_decides():
    got = await scrapes_in(10, datapipe={"metrics_interval": 1.0}, pulse={"metrics_interval": 5.0})
    assert got["data_pipeline"] == 11 and got["conversion"] == 3


async def test_endpoints_due_just_after_a_beat_are_polled_at_it_not_in_a_tick_of_their_own():
    """On the wall clock the engine keeps one tick per `tick`: a JSON endpoint every 1.3 s (due between two beats)
    is read at the next beat. Before, each such endpoint added an evaluation and a repaint of its own."""
    clock = WallClock()
    demo = Demo(clock, scenario="normal", seed=1)
    cfg = await demo.start(tick=1.0)
    cfg = cfg.model_copy(update={"services": [s.model_copy(update={"interval": 1.3, "metrics_interval": 1.0})
                                              for s in cfg.services]})
    engine = Engine(cfg, clock, scenario="normal")
    published: list[float] = []
    engine.hub.subscribe(StatePublished, lambda e: published.append(clock.monotonic()))
    await engine.start()
    running = asyncio.create_task(engine.run())
    try:
        await asyncio.sleep(4.2)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await engine.stop()
        await demo.stop()
    reads = demo.fleet.requests[("converge", "/v1/verification/debt")]
    assert len(published) <= 5, [round(t - published[0], 2) for t in published]  # at 0, 1, 2, 3 and 4 s
    assert reads >= 3  # and the 1.3 s endpoint is still read about as often as it asks (at 0, 2, 3, 4 s)
    assert all(b - a > 0.6 for a, b in zip(published, published[1:]))  # no tick squeezed between two beats


async def test_a_steady_switch_table_is_left_alone_and_a_flipped_switch_shows_at_once(monkeypatch):
    switches = [{"pipeline": f"p{n:02d}", "enabled": n % 7 != 3, "updated_at": None} for n in range(28)]
    fake = FakeFacade(state(storytailor={"switches": switches}))
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        assert "28 switches, 4 off" in screen_text(app)
        table = app.screen.query_one("#switch-table")
        touched = []
        refresh = Widget.refresh

        def spy(self, *regions, **kw):
            if self is table:
                touched.append(regions)
            return refresh(self, *regions, **kw)

        monkeypatch.setattr(Widget, "refresh", spy)
        for n in range(3):  # three ticks later, nothing changed in the switches
            fake.state.ts += 1
            fake.publish(state(storytailor={"switches": [dict(s) for s in switches]}))
            await pilot.pause()
        assert touched == []
        switches[5]["enabled"] = False  # p05 goes off
        fake.publish(state(storytailor={"switches": switches}))
        await pilot.pause()
        text = screen_text(app)
        assert "28 switches, 5 off" in text
        assert any("p05" in line and "○ OFF" in line for line in text.splitlines())
        assert touched  # and the table was repainted for it


async def test_strip_rates_crossing_a_digit_while_their_window_fills_do_not_lay_the_screen_out_again():
    """`rate-limit 0.006/s…` then `0.0047/s…` (the `…` of a filling window): each figure's cell holds both, so only
    the figure repaints; before, its cell widened and narrowed every few seconds and the screen was laid out again."""
    filling = {"filling": {k: 300 for k in ("error_ratio_5m", "p95_5m", "rate_limit_rate", "cpu", "req_rate")},
               "window_data_seconds": 60, "ready": True, "failed_executions": []}
    values = [(0.006, 0.0061, 0.61, 0.097), (0.0047, 0.0055, 4.8, 0.234), (0.0063, 0.012, 0.77, 0.233)]

    def strip_state(rl, err, req, p95):
        return state(datapipe={**filling, "rate_limit_rate": rl, "error_ratio_5m": err, "req_rate": req, "p95_5m": p95,
                               "cpu": 0.12, "queue_fill": 0.16})

    fake = FakeFacade(strip_state(*values[0]))
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        fake.publish()
        await pilot.pause()
        strip = app.screen.query_one("#strip")
        before = sum(fig.relayouts for fig in strip.lines)
        for v in values[1:] + values:
            fake.publish(strip_state(*v))
            await pilot.pause()
            assert f"rate-limit {v[0]:g}/s…" in screen_text(app)
        assert sum(fig.relayouts for fig in strip.lines) == before


async def test_narrow_strip_shows_whole_values_that_arrive_after_its_first_frame():
    """80 columns: the strip's figures in a grid of two rows. A value that grows inside its cell lays nothing out again,
    so the grid's columns must already be as wide as the cells (`5xx ?…` at first, `5xx 0.49%…` later)."""
    waiting = {"filling": {k: 300 for k in ("error_ratio_5m", "p95_5m", "rate_limit_rate", "cpu", "req_rate")},
               "window_data_seconds": 0, "ready": True, "failed_executions": []}
    fake = FakeFacade(state(datapipe=waiting))
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(80, 24)) as pilot:
        fake.publish()
        await pilot.pause()
        assert "5xx ?…" in screen_text(app)
        fake.publish(state(datapipe={**waiting, "error_ratio_5m": 0.0049, "p95_5m": 0.237, "rate_limit_rate": 0.0047,
                                     "cpu": 0.02, "req_rate": 2.5, "queue_fill": 0.17}))
        await pilot.pause()
        text = screen_text(app)
        for shown in ("5xx 0.49%…", "p95 237ms…", "rate-limit 0.0047/s…", "cpu 2%…", "req 2.5/s…", "queue 17%"):
            assert shown in text, shown
