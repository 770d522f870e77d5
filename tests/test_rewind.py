"""Live rewind: the display moves back over the session's own recording while the engine keeps running; what it
shows at each instant is what was published live then, a rule firing meanwhile is said, changes are refused."""

from __future__ import annotations

import json

from conftest import START
from console.clock import VirtualClock
from console.clock import hms
from console.events import MitigationAudited, StatePublished
from console.session import Session


def published(state) -> dict:
    doc = json.loads(json.dumps(state.to_json(), default=str))
    doc.pop("mode")
    return doc


class Driven:
    """A live demo Session on the virtual clock, recording, ticked by the test; every published state kept."""

    def __init__(self, session: Session) -> None:
        self.session, self.live, self.shown = session, {}, []
        session.engine.hub.subscribe(StatePublished, lambda ev: self.live.__setitem__(ev.state.ts, published(ev.state)))
        session.subscribe(self.shown.append)

    async def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.session.clock.advance(1.0)
            await self.session.engine.tick()


async def _session(tmp_path) -> Driven:
    session = Session(clock=VirtualClock(START), scenario="normal", seed=1, record=str(tmp_path / "live.opsrec"))
    await session.start()
    await session.start_mitigations()
    return Driven(session)


async def test_rewind_shows_what_was_published_then_while_the_engine_runs_on(tmp_path):
    d = await _session(tmp_path)
    s = d.session
    try:
        await d.tick(8 * 60)
        now = s.engine.state.ts
        res = await s.request({"cmd": "rewind", "goto": "-5m"})
        assert res["ok"], res
        shown = d.shown[-1]
        assert shown.ts == now - 300 and shown.rewind is not None and shown.rewind.behind == 300
        assert published(shown) == d.live[now - 300]
        for step, want in ((-10, now - 310), (-60, now - 370), (+25, now - 345), (-100, now - 445)):
            res = await s.request({"cmd": "rewind", "by": step})
            assert res["ok"] and d.shown[-1].ts == want, (step, res)
            assert published(d.shown[-1]) == d.live[want]
        assert s.rewound.replay.from_states  # shown from the recorded states: no engine was rebuilt for it

        audited = []
        s.engine.hub.subscribe(MitigationAudited, audited.append)
        refusal = await s.request({"cmd": "mitigation.prepare", "action": "conversion.disable_all"})
        assert refusal["refused"] and "while rewound" in refusal["message"]
        refusal = await s.request({"cmd": "incident.verb", "id": "INC-1", "verb": "acknowledge"})
        assert refusal["refused"] and "while rewound" in refusal["message"]
        # refused before anything was sent, and audited as every refused attempt is (an attached viewer's was already)
        assert [(a.action, a.target, a.result) for a in audited] == [
            ("conversion.disable_all", None, "refused"), ("acknowledge", "INC-1", "refused")]
        assert all(a.detail == f"rewound at {hms(now - 445)}: nothing sent" for a in audited), audited

        # the engine runs on underneath: a rule that fires now is in what the rewound display says
        s.demo.fleet.set_scenario("error-spike")
        for _ in range(20 * 60):
            await d.tick()
            if s.engine.state.firing:
                break
        firing = sorted({r.name for r in s.engine.state.firing})
        assert firing, "error-spike fires a rule within 20 minutes"
        shown = d.shown[-1]
        assert shown.ts == now - 445  # still where it was rewound to
        assert set(shown.rewind.firing_now) == set(firing) and shown.rewind.now == s.engine.state.ts
        assert not shown.firing  # nothing fired back then

        # ] and [: the next and previous rule transition or incident event, read from the grown file too
        res = await s.request({"cmd": "rewind", "jump": 1})
        went = res["at"]
        assert res["ok"] and went > now - 445 and d.shown[-1].ts == went
        assert published(d.shown[-1]) == d.live[went]
        res = await s.request({"cmd": "rewind", "jump": -1})
        assert not res["ok"] or d.shown[-1].ts < went

        # the recording grew meanwhile: rewinding into it shows it too
        res = await s.request({"cmd": "rewind", "goto": "-30s"})
        assert res["ok"] and published(d.shown[-1]) == d.live[s.engine.state.ts - 30]

        res = await s.request({"cmd": "rewind", "live": True})
        assert res["ok"] and d.shown[-1].rewind is None and d.shown[-1].ts == s.engine.state.ts
        await d.tick()
        assert d.shown[-1].rewind is None and published(d.shown[-1]) == d.live[s.engine.state.ts]
        ok = await s.request({"cmd": "incident.verb", "id": "INC-404", "verb": "acknowledge"})
        assert not ok["refused"]  # live again: verbs reach the incident manager (this id does not exist)
    finally:
        await s.stop()


async def test_rewind_forward_past_now_is_live_and_needs_a_recording(tmp_path):
    d = await _session(tmp_path)
    try:
        await d.tick(120)
        assert (await d.session.request({"cmd": "rewind", "by": -30}))["ok"]
        assert d.shown[-1].rewind is not None
        assert (await d.session.request({"cmd": "rewind", "by": 60}))["ok"]
        assert d.shown[-1].rewind is None  # past the newest tick: live
    finally:
        await d.session.stop()
    plain = Session(clock=VirtualClock(START), scenario="normal", seed=1)
    await plain.start()
    try:
        res = await plain.request({"cmd": "rewind", "by": -10})
        assert not res["ok"] and "recording is off" in res["message"]
    finally:
        await plain.stop()


async def test_rewind_keys_on_the_live_dashboard(tmp_path):
    from conftest import advance_app
    from screens.app import OpsApp
    from widgets.header_bar import HeaderBar

    session = Session(clock=VirtualClock(START), scenario="normal", seed=1, record=str(tmp_path / "live.opsrec"))
    app = OpsApp(session, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await advance_app(app, pilot, 180)
        header = app.screen.query_one(HeaderBar)
        now = session.engine.state.ts
        assert "LIVE" in header.ident.text
        for key, behind, words in (("comma", 10, "REWIND −10s"), ("less_than_sign", 70, "REWIND −1m10s"),
                                   ("full_stop", 60, "REWIND −1m")):
            await pilot.press(key)
            for _ in range(100):
                await pilot.pause(0.05)
                if app.screen._last.ts == now - behind:
                    break
            assert app.screen._last.ts == now - behind, key
            assert words in header.ident.text and "now ● 0 firing" in header.ident.text
        await advance_app(app, pilot, 5)  # the engine runs on: the display stays, the offset grows
        assert app.screen._last.ts == now - 60 and "REWIND −1m05s" in header.ident.text
        app.screen.query_one("#conversion").focus()
        await pilot.press("d")  # a mitigation key
        await pilot.pause(0.2)
        assert any("refused while rewound" in n.message for n in app._notifications)
        await pilot.press("end")
        for _ in range(100):
            await pilot.pause(0.05)
            if "LIVE" in header.ident.text:
                break
        assert "LIVE" in header.ident.text and app.screen._last.ts == session.engine.state.ts


async def test_the_incident_detail_while_rewound_shows_that_instant(tmp_path):
    d = await _session(tmp_path)
    s = d.session
    try:
        await d.tick(6 * 60)
        s.demo.fleet.set_scenario("error-spike")
        for _ in range(20 * 60):
            await d.tick()
            if s.engine.state.incidents:
                break
        iid = s.engine.state.incidents[0].id
        await d.tick(30)
        then = s.engine.state.ts
        seen_then = await s.request({"cmd": "incident.view", "id": iid})  # what the detail showed live then
        plot_then = await s.request({"cmd": "range", "exprs": ["sum(rate(http_requests_total[1m]))"], "span": 600,
                                     "step": 15})
        s.demo.fleet.set_scenario("normal")
        await d.tick(5 * 60)
        now_view = await s.request({"cmd": "incident.view", "id": iid})
        assert now_view["at"] == s.engine.state.ts and now_view["live"] != seen_then["live"]  # the values moved on

        res = await s.request({"cmd": "rewind", "goto": f"-{s.engine.state.ts - then:.0f}s"})
        assert res["ok"] and d.shown[-1].ts == then
        rewound = await s.request({"cmd": "incident.view", "id": iid})
        assert rewound["at"] == then and rewound["live"] == seen_then["live"]
        assert rewound["mitigations"] == seen_then["mitigations"]
        plot = await s.request({"cmd": "range", "exprs": ["sum(rate(http_requests_total[1m]))"], "span": 600,
                                "step": 15})
        assert plot["now"] == then and plot["series"] == plot_then["series"]
    finally:
        await s.stop()


async def test_keys_pressed_during_a_seek_wait_their_turn_and_esc_wins(tmp_path):
    import asyncio

    d = await _session(tmp_path)
    s = d.session
    try:
        await d.tick(5 * 60)
        now = s.engine.state.ts
        first, second = await asyncio.gather(s.request({"cmd": "rewind", "by": -60}),
                                             s.request({"cmd": "rewind", "by": -30}))
        assert first["ok"] and second["ok"] and d.shown[-1].ts == now - 90  # one after the other, from the first
        assert published(d.shown[-1]) == d.live[now - 90]
        seek, live = await asyncio.gather(s.request({"cmd": "rewind", "by": -60}), s.request({"cmd": "rewind", "live": True}))
        assert live["ok"] and d.shown[-1].rewind is None and s.rewound is None  # Esc during a seek: live, and stays
        await d.tick()
        assert d.shown[-1].rewind is None and published(d.shown[-1]) == d.live[s.engine.state.ts]
    finally:
        await s.stop()
