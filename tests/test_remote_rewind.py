"""Rewind in an attached viewer: each viewer rewinds on its own over the collector's recording (a Rewind per viewer on
the collector), the others and the collector stay live; what it shows is what was published live then."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3

import httpx

from console.events import StatePublished
from console.remote import codec
from console.remote.rewinds import ViewerRewinds
from screens.app import OpsApp
from tests.conftest import screen_text
from tests.test_remote import ALICE, BOB, CAROL, Room, attach, caught_up, detach, doc, tokens, until  # noqa: F401

PER_VIEWER = ("viewers", "link", "mode")  # presence and the link are the viewer's now; a replayed state says replay


def bare(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in PER_VIEWER}


class Recorded:
    """A collector that records, and every state it published live, by instant (the reference)."""

    def __init__(self, room: Room) -> None:
        self.room, self.live = room, {}
        room.session.engine.hub.subscribe(StatePublished, lambda ev: self.live.__setitem__(ev.state.ts, doc(ev.state)))

    def __getattr__(self, name):
        return getattr(self.room, name)


def rewinds(room: Room) -> ViewerRewinds:
    return room.collector.rewinds


def open_fds(path) -> int:
    """This process's connections to the recording, counted by their open -wal files (SQLite keeps a closed
    connection's main-file descriptor for the next one to the same file; its -wal it closes)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == f"{path}-wal":
                n += 1
        except OSError:
            pass
    return n


async def test_one_viewer_rewinds_to_several_instants_the_other_and_the_collector_stay_live(tokens, tmp_path):
    async with Room(tokens, record=str(tmp_path / "c.opsrec")) as room:
        r = Recorded(room)
        alice = await attach(room.url, token=ALICE, user="al@x")
        bob = await attach(room.url, token=BOB, user="bob@desk")
        await room.advance(240)
        t0 = room.session.state.ts

        res = await alice.request({"cmd": "rewind", "goto": "-60s"})
        assert res["ok"] and res["at"] == t0 - 60 and "state" not in res, res
        shown = alice.shown()
        assert shown.ts == t0 - 60 and shown.rewind.behind == 60
        assert bare(doc(shown)) == bare(r.live[t0 - 60])
        for step, want in ((-10, t0 - 70), (-60, t0 - 130), (25, t0 - 105)):
            res = await alice.request({"cmd": "rewind", "by": step})
            assert res["ok"] and alice.shown().ts == want, (step, res, want)
            assert bare(doc(alice.shown())) == bare(r.live[want])
        at = alice.shown().ts

        # the engine runs on; a page that comes in while she is rewound is in her header, not hidden
        room.session.demo.fleet.set_scenario("conversion-stall")
        await room.advance(330)
        incident = next(i.id for i in room.session.state.incidents if i.rule == "ConversionPipelineStall")
        await until(lambda: caught_up(bob, room) and caught_up(alice, room), "both viewers' live streams")
        shown = alice.shown()
        assert shown.ts == at and not shown.firing  # still where she rewound to: nothing fired back then
        assert "ConversionPipelineStall" in shown.rewind.firing_now and shown.rewind.now == room.session.state.ts
        assert alice.state.ts == room.session.state.ts  # her live stream kept arriving underneath

        # the other viewer and the collector are live all along
        assert bob.shown().rewind is None and bob.shown().ts == room.session.state.ts
        assert not room.session.display.rewound and room.collector.doc["ts"] == room.session.state.ts
        assert len(rewinds(room)) == 1

        # what the incident detail and a plot showed live at T1, asked again by a viewer rewound to T1
        t1 = room.session.state.ts
        plot = {"cmd": "range", "exprs": ["sum(rate(pulse_conversion_events_total[1m]))"], "span": 300, "step": 15}
        view_then = await bob.request({"cmd": "incident.view", "id": incident})
        plot_then = await bob.request(plot)
        room.session.demo.fleet.set_scenario("normal")
        await room.advance(120)
        res = await alice.request({"cmd": "rewind", "goto": f"-{room.session.state.ts - t1:.0f}s"})
        assert res["ok"] and alice.shown().ts == t1
        assert bare(doc(alice.shown())) == bare(r.live[t1])
        view_rewound = await alice.request({"cmd": "incident.view", "id": incident})
        assert view_rewound["at"] == t1 and view_rewound["live"] == view_then["live"]
        assert view_rewound["mitigations"] == view_then["mitigations"]
        plot_rewound = await alice.request(plot)
        assert plot_rewound["now"] == t1 and plot_rewound["series"] == plot_then["series"]
        view_live = await bob.request({"cmd": "incident.view", "id": incident})
        assert view_live["at"] == room.session.state.ts  # bob's answers stay live

        res = await alice.request({"cmd": "rewind", "live": True})
        assert res["ok"] and alice.shown().rewind is None and len(rewinds(room)) == 0
        await room.advance(5)
        await until(lambda: caught_up(alice, room), "alice live again")
        assert alice.shown().ts == room.session.state.ts
        await detach(alice)
        await detach(bob)


async def test_changes_from_a_rewound_viewer_are_refused_on_both_sides_and_audited(tokens, tmp_path):
    async with Room(tokens, record=str(tmp_path / "c.opsrec")) as room:
        alice = await attach(room.url, token=ALICE, user="al@x")
        bob = await attach(room.url, token=BOB, user="bob@desk")
        carol = await attach(room.url, token=CAROL, user="carol@lap")
        incident = await room.stall()
        assert (await alice.request({"cmd": "rewind", "by": -30}))["ok"]
        res = await alice.request({"cmd": "mitigation.prepare", "action": "conversion.disable_all"})
        assert res["refused"] and res["message"] == "Mitigations are refused while rewound: End or Esc returns to live"
        res = await alice.request({"cmd": "incident.verb", "id": incident, "verb": "acknowledge"})
        assert res["refused"] and res["message"].startswith("Incident changes are refused while rewound")
        # the collector's own record refuses it too, whatever the viewer says (a client that does not check)
        async with httpx.AsyncClient(base_url=room.url) as raw:
            res = (await raw.post("/api/command", json={"cmd": "incident.verb", "id": incident, "verb": "resolve"},
                                  headers={"Authorization": f"Bearer {ALICE}", "X-Opsconsole-User": "al@x",
                                           "X-Opsconsole-Viewer": alice.viewer_id})).json()
        assert res["refused"] and "while rewound" in res["message"]
        assert next(i for i in room.session.state.incidents if i.id == incident).state == "triggered"
        assert room.session.demo.fleet.mutations == []

        # a live viewer is not touched by her rewind; a read viewer may rewind (it changes nothing)
        res = await bob.request({"cmd": "mitigation.prepare", "action": "conversion.disable_all"})
        assert res["ok"] and "plan_id" in res, res
        await bob.request({"cmd": "mitigation.cancel", "plan_id": res["plan_id"]})
        res = await carol.request({"cmd": "rewind", "by": -20})
        assert res["ok"] and carol.shown().rewind is not None and len(rewinds(room)) == 2
        for v in (alice, bob, carol):
            await detach(v)
    rows = sqlite3.connect(tmp_path / "data" / "audit.sqlite").execute(
        "SELECT user, action, target, result, detail FROM audit WHERE result = 'refused' ORDER BY id").fetchall()
    assert [r[:4] for r in rows] == [("al@x (ops)", "conversion.disable_all", None, "refused"),
                                     ("al@x (ops)", "acknowledge", incident, "refused"),
                                     ("al@x (ops)", "resolve", incident, "refused")]
    assert all(r[4].startswith("rewound at ") for r in rows), rows


async def test_a_viewers_rewind_is_closed_when_it_goes_live_leaves_or_idles_and_the_cap_holds(tokens, tmp_path):
    path = tmp_path / "c.opsrec"
    async with Room(tokens, record=str(path)) as room:
        await room.advance(120)
        alice = await attach(room.url, token=ALICE)
        bob = await attach(room.url, token=BOB)
        writer_fds = open_fds(path)
        assert (await alice.request({"cmd": "rewind", "by": -30}))["ok"]
        assert len(rewinds(room)) == 1 and open_fds(path) > writer_fds  # her Rewind holds the file open

        rewinds(room).cap = 1
        res = await bob.request({"cmd": "rewind", "by": -30})
        assert res["refused"] and "at most 1" in res["message"] and "\n" not in res["message"]
        assert bob.shown().rewind is None

        await detach(alice)  # she leaves: her Rewind is closed
        await until(lambda: len(rewinds(room)) == 0 and open_fds(path) == writer_fds, "her Rewind closed")

        assert (await bob.request({"cmd": "rewind", "by": -30}))["ok"]  # room again under the cap
        rewinds(room).idle = 60
        await room.advance(30)
        assert bob.shown().rewind is not None
        await room.advance(35)  # a minute without a command from him: closed, and he is told
        await until(lambda: bob.shown().rewind is None, "bob back to live")
        await until(lambda: open_fds(path) == writer_fds, "his Rewind closed")
        await detach(bob)


async def test_garbage_in_a_rewind_command_is_one_line_and_the_collector_is_unharmed(tokens, tmp_path):
    async with Room(tokens, record=str(tmp_path / "c.opsrec")) as room:
        await room.advance(60)
        alice = await attach(room.url, token=ALICE)
        bob = await attach(room.url, token=BOB)
        headers = {"Authorization": f"Bearer {ALICE}", "X-Opsconsole-Viewer": alice.viewer_id,
                   "Content-Type": "application/json"}
        bodies = [{"by": "soon"}, {"by": float("nan")}, {"by": [1]}, {"by": True}, {"jump": 5}, {"jump": "x"},
                  {"goto": "x" * 1000}, {"goto": "25:99"}, {"goto": ["a"]}, {"goto": ""}, {}]
        async with httpx.AsyncClient(base_url=room.url) as raw:
            for body in bodies:
                res = (await raw.post("/api/command", content=json.dumps({"cmd": "rewind", **body}),
                                      headers=headers)).json()
                assert not res["ok"] and res["message"] and "\n" not in res["message"], (body, res)
                assert "Traceback" not in res["message"]
            res = (await raw.post("/api/command", json={"cmd": "rewind", "by": -10},
                                  headers={**headers, "X-Opsconsole-Viewer": "../../etc"})).json()
            assert not res["ok"] and "viewer id" in res["message"]
        assert len(rewinds(room)) == 0 and not room.session.display.rewound  # nothing held open
        res = await alice.request({"cmd": "rewind", "by": 1e308})  # far past now: that is live
        assert res["ok"] and alice.shown().rewind is None
        await room.advance(10)
        await until(lambda: caught_up(alice, room) and caught_up(bob, room), "the collector still serving")
        res = await alice.request({"cmd": "rewind", "by": -20})
        assert res["ok"] and alice.shown().ts == room.session.state.ts - 20  # and still rewinds
        await detach(alice)
        await detach(bob)


async def test_a_collector_not_recording_says_so_in_one_line():
    async with Room() as room:
        await room.advance(10)
        viewer = await attach(room.url)
        res = await viewer.request({"cmd": "rewind", "by": -10})
        assert not res["ok"] and "recording is off" in res["message"] and "\n" not in res["message"]
        assert viewer.shown().rewind is None and len(rewinds(room)) == 0
        await detach(viewer)


async def test_disconnected_while_rewound_stays_rewound_then_reconnecting_is_live(tmp_path):
    room = Room(record=str(tmp_path / "c.opsrec"))
    await room.served.start()
    port = room.served.port
    await room.advance(60)
    app = OpsApp(RemoteSession_for(room, retry_max=0.2))
    async with app.run_test(size=(160, 48)) as pilot:
        viewer = app.session
        await until(lambda: "1 watching" in screen_text(app), "attached", pause=pilot.pause)
        await pilot.press("comma")
        await until(lambda: "REWIND −10s" in screen_text(app), "rewound", pause=pilot.pause)
        at = viewer.shown().ts
        await room.served.stop()
        await until(lambda: "DISCONNECTED SINCE" in screen_text(app), "the banner", pause=pilot.pause)
        assert "REWIND −10s" in screen_text(app)  # and still saying it shows the past
        shown = viewer.shown()
        assert shown.ts == at and shown.rewind is not None and shown.link.startswith("disconnected since")
        assert app.screen._last.ts == at
        assert all(ep.error.startswith("collector disconnected since") for s in shown.services.values()
                   for ep in s.endpoints.values())
        res = await viewer.request({"cmd": "mitigation.prepare", "action": "conversion.disable_all"})
        assert res["refused"] and "while rewound" in res["message"] and "nothing sent" in res["message"]
        res = await viewer.request({"cmd": "rewind", "by": -10})
        assert not res["ok"] and "rewind needs it" in res["message"]
        again = Room(port=port, record=str(tmp_path / "again.opsrec"))
        await again.served.start()
        try:
            await again.advance(5)
            await until(lambda: "LIVE" in screen_text(app) and "REWIND" not in screen_text(app)
                        and app.screen._last.ts == again.session.state.ts, "the viewer to reconnect, live",
                        pause=pilot.pause)
            assert viewer.shown().rewind is None
        finally:
            await again.served.stop()


async def test_rewind_keys_in_an_attached_tui_move_only_that_viewer(tmp_path):
    async with Room(record=str(tmp_path / "c.opsrec")) as room:
        await room.advance(120)
        other = await attach(room.url)
        app = OpsApp(RemoteSession_for(room))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(lambda: "2 watching" in screen_text(app), "attached", pause=pilot.pause)
            now = room.session.state.ts
            await pilot.press("comma")
            await until(lambda: "REWIND −10s" in screen_text(app), "the rewound header", pause=pilot.pause)
            assert app.screen._last.ts == now - 10 and "now ● 0 firing" in screen_text(app)
            await pilot.press("less_than_sign")
            await until(lambda: "REWIND −1m10s" in screen_text(app), "a minute more", pause=pilot.pause)
            assert other.shown().rewind is None  # the other viewer is live
            await room.advance(10)  # the collector runs on: the offset grows, the display stays
            await until(lambda: "REWIND −1m20s" in screen_text(app), "the offset growing", pause=pilot.pause)
            assert app.screen._last.ts == now - 70
            app.screen.query_one("#conversion").focus()
            await pilot.press("d")  # a mitigation key
            await until(lambda: any("refused while rewound" in n.message for n in app._notifications),
                        "the refusal", pause=pilot.pause)
            room.session.demo.fleet.set_scenario("conversion-stall")  # a page comes in while rewound
            await room.advance(330)
            await until(lambda: "now ● 1 firing: ConversionPipelineStall" in screen_text(app),
                        "the page in the rewound header", pause=pilot.pause)
            assert app.screen._last.ts == now - 70 and not app.screen._last.firing  # the display stays back then
            await pilot.press("end")
            await until(lambda: "LIVE" in screen_text(app) and "REWIND" not in screen_text(app), "live again",
                        pause=pilot.pause)
            assert app.screen._last.ts == room.session.state.ts
            assert len(rewinds(room)) == 0
        await detach(other)


def RemoteSession_for(room: Room, **kw):
    from console.remote.client import RemoteSession

    return RemoteSession(room.url, **kw)


async def test_two_viewers_rewind_at_once_each_to_its_own_instant(tmp_path):
    async with Room(record=str(tmp_path / "c.opsrec")) as room:
        r = Recorded(room)
        await room.advance(180)
        a, b = await attach(room.url), await attach(room.url)
        now = room.session.state.ts
        ra, rb = await asyncio.gather(a.request({"cmd": "rewind", "by": -40}), b.request({"cmd": "rewind", "by": -90}))
        assert ra["ok"] and rb["ok"]
        assert a.shown().ts == now - 40 and b.shown().ts == now - 90
        assert bare(doc(a.shown())) == bare(r.live[now - 40]) and bare(doc(b.shown())) == bare(r.live[now - 90])
        assert len(rewinds(room)) == 2
        await detach(a)
        await detach(b)
        await until(lambda: len(rewinds(room)) == 0, "both closed")
