"""War room: a collector (real uvicorn on a loopback port, the real simulator) and viewers attached over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest

from console.cli import main
from console.clock import VirtualClock
from console.config.schema import Config, Serve, ServeToken
from console.remote import codec
from console.remote.auth import Tokens
from console.remote.client import RemoteError, RemoteSession
from console.remote.server import Served
from console.session import Session
from screens.app import OpsApp
from tests.conftest import START, screen_text

ALICE, BOB, CAROL = "alice-secret-7Qx9", "bob-secret-K2v8", "carol-secret-R5m1"


@pytest.fixture
def tokens(monkeypatch) -> Tokens:
    monkeypatch.setenv("OPS_TOKEN_ALICE", ALICE)
    monkeypatch.setenv("OPS_TOKEN_BOB", BOB)
    monkeypatch.setenv("OPS_TOKEN_CAROL", CAROL)
    cfg = Config(serve=Serve(tokens=[ServeToken(env="OPS_TOKEN_ALICE", role="operate", name="ops"),
                                     ServeToken(env="OPS_TOKEN_BOB", role="operate"),
                                     ServeToken(env="OPS_TOKEN_CAROL", role="read", name="carol-ro")]))
    return Tokens(cfg)


class Room:
    """A collector: the demo fleet on a virtual clock, ticked by the test, served on 127.0.0.1."""

    def __init__(self, tokens: Tokens | None = None, port: int = 0, record: str | None = None,
                 read_only: bool = False) -> None:
        self.session = Session(clock=VirtualClock(START), scenario="normal", seed=1, record=record,
                               read_only=read_only)
        self.served = Served(self.session, tokens or Tokens(None), "127.0.0.1", port)

    async def __aenter__(self) -> "Room":
        await self.served.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.served.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.served.port}/"

    @property
    def collector(self):
        return self.served.collector

    async def advance(self, seconds: float, step: float = 5.0) -> None:
        clock = self.session.engine.clock
        end = clock.now() + seconds
        while clock.now() < end:
            clock.advance(step)
            await self.session.engine.tick()

    async def stall(self) -> str:
        """A calm minute, then Pulse stops: ConversionPipelineStall opens an incident; its id."""
        await self.advance(60)
        self.session.demo.fleet.set_scenario("conversion-stall")
        await self.advance(330)
        return next(i.id for i in self.session.state.incidents if i.rule == "ConversionPipelineStall")


SHOWN: dict = {}


async def until(cond, what: str, timeout: float = 30.0, pause=None) -> None:
    """Wait for a condition the other side makes true over the network (never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}" + (f"\n{screen}" if (screen := SHOWN.get("app")) else ""))
        await (pause() if pause else asyncio.sleep(0.02))


async def attach(url: str, **kw) -> RemoteSession:
    viewer = RemoteSession(url, **kw)
    await viewer.start()
    viewer.task = asyncio.create_task(viewer.run())
    return viewer


async def detach(viewer: RemoteSession) -> None:
    viewer.task.cancel()
    await asyncio.gather(viewer.task, return_exceptions=True)
    await viewer.stop()


def doc(state) -> dict:
    return codec.normalized(codec.to_doc(state))


def caught_up(viewer: RemoteSession, room: Room) -> bool:
    return viewer.state is not None and codec.same(doc(viewer.state), room.collector.doc)


# --- the state: round trip, diffs ------------------------------------------------------------


def test_patches_carry_nan_sliding_windows_and_rows_changed_in_place():
    old = {"a": 1.0, "n": math.nan, "trend": [[1, 1.0], [2, 2.0], [3, 3.0]], "rows": [{"v": 1}, {"v": 2}, {"v": 3}],
           "gone": True}
    new = {"a": 2.0, "n": math.nan, "trend": [[2, 2.0], [3, 3.0], [4, 4.0]], "rows": [{"v": 1}, {"v": 5}, {"v": 3}],
           "added": None}
    patch = json.loads(codec.dumps(codec.diff(old, new)))
    assert "n" not in patch  # NaN that stays NaN is no change
    assert patch["trend"] == ["<", 1, [[4, 4.0]]]
    assert patch["rows"] == ["@", {"1": ["~", {"v": ["=", 5]}]}]
    assert codec.same(codec.apply(json.loads(codec.dumps(old)), patch), new)
    assert codec.diff(new, json.loads(codec.dumps(new))) == {}
    with pytest.raises(ValueError):
        codec.apply({"a": 1}, {"a": ["~", {"b": ["=", 1]}]})
    with pytest.raises(ValueError):
        codec.apply({"rows": [1, 2]}, {"rows": ["@", {"0": ["-"]}]})


async def test_viewer_state_equals_collector_state_and_a_late_viewer_gets_the_same(tokens):
    async with Room(tokens) as room:
        early = await attach(room.url, token=ALICE)
        incident = await room.stall()
        await until(lambda: caught_up(early, room), "the early viewer to apply every diff")
        late = await attach(room.url, token=BOB)  # one full state, no diffs
        await room.advance(10)
        await until(lambda: caught_up(late, room) and caught_up(early, room), "both viewers")
        assert [i.id for i in early.state.incidents] == [i.id for i in room.session.state.incidents]
        assert incident in [i.id for i in late.state.incidents]
        inc = next(i for i in late.state.incidents if i.id == incident)
        assert inc.timers(late.state.ts) == next(i for i in room.session.state.incidents
                                                 if i.id == incident).timers(room.session.state.ts)
        assert late.state.viewers == 2 and early.state.viewers == 2  # presence
        assert early.connects == 1, early.last_error  # diffs applied all along: never resynchronised
        await detach(early)
        await detach(late)


class Mirror:
    """The collector's own Session, already started, shown by an in-process app (the reference rendering)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __getattr__(self, name):
        return getattr(self.session, name)

    async def start(self):
        return None

    async def start_mitigations(self):
        return None

    async def run(self):
        return None

    async def stop(self):
        return None

    def subscribe(self, fn):
        unsubscribe = self.session.subscribe(fn)
        fn(self.session.state)
        return unsubscribe


async def rendered(app, size=(160, 48)) -> str:
    async with app.run_test(size=size) as pilot:
        await until(lambda: "waiting for first poll" not in screen_text(app) and "pulse" in screen_text(app),
                    "the dashboard", pause=pilot.pause)
        app.clear_notifications()
        await pilot.pause()
        return screen_text(app)


async def test_a_viewer_renders_the_same_dashboard_as_the_collectors_own_session(tokens):
    async with Room(tokens) as room:
        await room.stall()
        await room.advance(20)
        for size in ((160, 48), (80, 24)):
            viewer = await rendered(OpsApp(RemoteSession(room.url, token=ALICE)), size)
            own = await rendered(OpsApp(Mirror(room.session), autorun=False), size)
            assert "ConversionPipelineStall" in own or "INC-" in own
            assert "◉ 1 watching" in viewer  # itself, while it was attached; the reference was drawn after it left
            assert viewer.replace("◉ 1 watching", "◉ N watching") == own.replace("◉ 0 watching", "◉ N watching")


async def test_viewer_dashboard_shows_the_collectors_incident_and_who_watches(tokens):
    async with Room(tokens) as room:
        incident = await room.stall()
        app = OpsApp(RemoteSession(room.url, token=ALICE))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(lambda: incident in screen_text(app) and "1 watching" in screen_text(app),
                        "the incident on the viewer's dashboard", pause=pilot.pause)
            assert "● 1 firing" in screen_text(app)


# --- commands: attribution, read-only, audit ----------------------------------------------------


async def test_ack_from_viewer_a_appears_in_viewer_b_with_as_name(tokens):
    async with Room(tokens) as room:
        incident = await room.stall()
        alice = await attach(room.url, token=ALICE, user="al@x")
        app = OpsApp(RemoteSession(room.url, token=BOB, user="bob@desk"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(lambda: incident in screen_text(app), "B's dashboard", pause=pilot.pause)
            res = await alice.request({"cmd": "incident.verb", "id": incident, "verb": "acknowledge",
                                       "comment": "looking", "by": "forged@elsewhere"})
            assert res["ok"], res
            SHOWN["app"] = None
            await until(lambda: "by al@x (ops)" in (SHOWN.__setitem__("app", screen_text(app)) or SHOWN["app"]), "A's name in B's incident table",
                        pause=pilot.pause)
            inc = next(i for i in app.session.state.incidents if i.id == incident)
            assert inc.state == "acknowledged"
            assert inc.timeline[-1].who == "al@x (ops)"  # the collector's word, not the forged one
            assert next(i for i in room.session.state.incidents if i.id == incident).timeline[-1].who == "al@x (ops)"
            app.open_incident(incident)  # the detail: its timeline, and what it asks the collector (incident.view)
            SHOWN["app"] = None
            await until(lambda: "(al@x (ops))" in (SHOWN.__setitem__("app", screen_text(app)) or SHOWN["app"])
                        and "Disable" in SHOWN["app"], "the incident detail", pause=pilot.pause)
        await detach(alice)


async def test_read_token_is_refused_before_the_engine_and_audited_and_no_token_reaches_a_file(tokens, caplog,
                                                                                               tmp_path):
    caplog.set_level(logging.DEBUG)
    async with Room(tokens, record="auto") as room:
        incident = await room.stall()
        carol = await attach(room.url, token=CAROL, user="carol@lap")
        assert carol.view().read_only  # her keys say so before she asks
        res = await carol.request({"cmd": "incident.verb", "id": incident, "verb": "acknowledge"})
        assert res["refused"] and "read-only viewer (carol-ro)" in res["message"]
        res = await carol.request({"cmd": "mitigation.prepare", "action": "conversion.disable_all"})
        assert res["refused"]
        assert next(i for i in room.session.state.incidents if i.id == incident).state == "triggered"
        alice = await attach(room.url, token=ALICE, user="al@x", read_only=True)  # `attach --read-only`
        res = await alice.request({"cmd": "incident.verb", "id": incident, "verb": "resolve"})
        assert res["refused"]
        await room.advance(10)
        await detach(carol)
        await detach(alice)
    rows = sqlite3.connect(tmp_path / "data" / "audit.sqlite").execute(
        "SELECT user, action, target, result FROM audit ORDER BY id").fetchall()
    assert ("carol@lap (carol-ro)", "acknowledge", incident, "refused") in rows
    assert ("carol@lap (carol-ro)", "conversion.disable_all", None, "refused") in rows
    assert ("al@x (ops)", "resolve", incident, "refused") in rows
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            for secret in (ALICE, BOB, CAROL):
                assert secret.encode() not in blob, path
    for secret in (ALICE, BOB, CAROL):
        assert secret not in caplog.text


async def test_a_viewers_mitigation_is_the_collectors_plan_sent_by_the_collector_under_the_viewers_name(tokens,
                                                                                                       tmp_path):
    async with Room(tokens) as room:
        await room.advance(10)
        alice = await attach(room.url, token=ALICE, user="al@x")
        res = await alice.request({"cmd": "mitigation.prepare", "action": "conversion.disable_all"})
        assert res["ok"] and "plan_id" in res, res
        pulse = room.session.demo.urls["conversion"]
        assert pulse.split("//")[1] in json.dumps(res["confirm"])  # the dialog shows where the collector sends it
        assert room.session.demo.fleet.mutations == []  # nothing sent before the confirmation
        sent = await alice.request({"cmd": "mitigation.send", "plan_id": res["plan_id"]})
        assert sent["ok"], sent
        await room.advance(5)
        await until(lambda: alice.state.actions and alice.state.actions[0].status in ("confirmed", "verifying"),
                    "the action in the viewer's Activity")
        got = room.session.demo.fleet.mutations
        assert [(m.method, m.path, m.body["enabled"], m.status) for m in got] == [
            ("PUT", "/api/conversion/config", False, 200)]  # the service received exactly what was confirmed
        await detach(alice)
    rows = sqlite3.connect(tmp_path / "data" / "audit.sqlite").execute(
        "SELECT DISTINCT user FROM audit WHERE action = 'conversion.disable_all'").fetchall()
    assert rows == [("al@x (ops)",)]


async def test_the_collectors_read_only_wins_over_an_operate_token(tokens):
    async with Room(tokens, read_only=True) as room:
        await room.advance(5)
        alice = await attach(room.url, token=ALICE)
        assert alice.view().read_only
        res = await alice.request({"cmd": "mitigation.prepare", "action": "conversion.disable_all"})
        assert res["refused"] and "read-only" in res["message"]
        await detach(alice)


async def test_wrong_or_missing_token_is_one_line_and_never_echoes_the_token(tokens):
    async with Room(tokens) as room:
        for token in ("not-the-token", None):
            with pytest.raises(RemoteError) as e:
                await RemoteSession(room.url, token=token).start()
            assert "missing or wrong token" in str(e.value)
            assert "not-the-token" not in str(e.value) and "\n" not in str(e.value)
        assert room.collector.viewers == 0


async def test_a_command_for_a_gone_incident_and_rewind_are_one_line_each():
    async with Room() as room:
        await room.advance(10)
        viewer = await attach(room.url)
        res = await viewer.request({"cmd": "incident.verb", "id": "INC-999", "verb": "acknowledge"})
        assert not res["ok"] and "INC-999" in res["message"] and "\n" not in res["message"]
        res = await viewer.request({"cmd": "range", "exprs": ["up"], "span": "soon", "step": 1})
        assert res == {"ok": False, "refused": False, "message": "range: malformed command"}
        res = await viewer.request({"cmd": "incident.verb", "id": ["x"], "verb": 3})
        assert not res["ok"] and "\n" not in res["message"]
        res = await viewer.request({"cmd": "rewind", "by": -60})  # this collector records nothing
        assert not res["ok"] and "recording is off" in res["message"] and "\n" not in res["message"]
        res = await viewer.request({"cmd": "range", "exprs": ["opsconsole_converge_debt_score"], "span": 60,
                                    "step": 15})
        assert res["ok"] and len(res["series"]) == 1  # plots ask the collector
        await detach(viewer)


# --- refusing to start --------------------------------------------------------------------------


def test_serve_off_loopback_without_tokens_refuses_to_start(capsys):
    assert main(["serve", "--listen", "0.0.0.0:0"]) == 2
    err = capsys.readouterr().err
    assert "not loopback" in err and "[serve] tokens" in err and len(err.strip().splitlines()) == 1


def test_serve_config_errors_name_file_and_key(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "c.toml"
    base = '[[services]]\nname = "pulse"\nkind = "conversion"\nurl = "http://127.0.0.1:9"\n\n'
    cfg.write_text(base + '[serve]\ntokens = [{env = "OPS_T", role = "admin"}]\n')
    assert main(["serve", "--config", str(cfg)]) == 2
    assert f"{cfg}: serve.tokens[0].role" in capsys.readouterr().err
    cfg.write_text(base + '[serve]\ntokens = [{env = "OPS_T_UNSET", role = "read"}]\n')
    monkeypatch.delenv("OPS_T_UNSET", raising=False)
    assert main(["serve", "--config", str(cfg), "--listen", "0.0.0.0:0"]) == 2
    assert "serve.tokens[0].env: $OPS_T_UNSET is not set" in capsys.readouterr().err


# --- viewers that go away, a collector that goes away --------------------------------------------

VIEWER = """
import asyncio, sys
from console.remote.client import RemoteSession
async def main():
    v = RemoteSession(sys.argv[1])
    await v.start()
    print("attached", flush=True)
    await v.run()
asyncio.run(main())
"""


async def test_collector_survives_a_viewer_killed_mid_stream_and_serves_the_next():
    async with Room() as room:
        await room.advance(10)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", VIEWER, room.url,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    cwd=str(Path(__file__).parent.parent))
        assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"attached"
        await room.advance(10)  # diffs on their way to it
        assert room.collector.viewers == 1
        proc.kill()  # SIGKILL: no goodbye
        await proc.wait()
        await until(lambda: room.collector.viewers == 0, "the collector to notice the dead viewer")
        await room.advance(10)
        viewer = await attach(room.url)
        await room.advance(5)
        await until(lambda: caught_up(viewer, room), "the next viewer")
        assert viewer.state.viewers == 1
        await detach(viewer)


async def test_disconnect_banner_on_every_panel_then_reconnection_by_itself():
    room = Room()
    await room.served.start()
    port = room.served.port
    await room.advance(10)
    app = OpsApp(RemoteSession(room.url, retry_max=0.2))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: "1 watching" in screen_text(app), "attached", pause=pilot.pause)
        await room.served.stop()
        await until(lambda: "DISCONNECTED SINCE" in screen_text(app), "the banner", pause=pilot.pause)
        text = screen_text(app)
        for panel in ("pulse", "converge", "path-tracker", "datapipe"):
            assert panel in text
        assert text.count("collector disconnected since") >= 4  # every service panel says it, values dimmed
        from widgets.activity import Activity
        from widgets.incident_table import IncidentTable
        from widgets.kill_switches import KillSwitches

        for table in (KillSwitches, Activity, IncidentTable):  # and the tables: their rows are the last sent
            shown = app.screen.query_one(table)
            assert "collector disconnected since" in str(shown.border_subtitle) and shown.has_class("-lost")
        res = await app.session.request({"cmd": "incident.verb", "id": "INC-1", "verb": "acknowledge"})
        assert not res["ok"] and "nothing sent" in res["message"]
        again = Room(port=port)
        await again.served.start()
        try:
            await again.advance(5)
            await until(lambda: "DISCONNECTED" not in screen_text(app) and "1 watching" in screen_text(app),
                        "the viewer to reconnect by itself", pause=pilot.pause)
            assert "collector disconnected" not in screen_text(app)
            assert not app.screen.query_one(KillSwitches).has_class("-lost")
        finally:
            await again.served.stop()


# --- bad input from a "collector" ------------------------------------------------------------------


async def serve_app(app):
    """A starlette app on a real uvicorn, on a free loopback port: (server, task, url)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started or task.done(), "uvicorn to start")
    return server, task, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/"


async def test_garbage_frame_or_another_version_is_one_line_and_the_viewer_keeps_running():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    async with Room() as room:
        await room.advance(5)
        async with httpx.AsyncClient() as client:
            view = (await client.get(room.url + "api/view")).json()
        full = room.collector.full()
    bad = codec.dumps({"t": "diff", "seq": json.loads(full)["seq"] + 1, "patch": {"services": ["~", 5]}})
    protocol = {"v": codec.PROTOCOL}

    async def view_ep(request):
        return JSONResponse({**view, "protocol": protocol["v"]})

    async def stream_ep(request):
        async def gen():
            yield f"data: {full}\n\n".encode()
            yield f"data: {bad}\n\n".encode()
            yield b"data: {not json\n\n"
            await asyncio.Event().wait()
        return StreamingResponse(gen(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/api/view", view_ep), Route("/api/stream", stream_ep)])
    server, task, url = await serve_app(app)
    try:
        viewer = await attach(url, retry_max=0.2)
        await until(lambda: viewer.state.link is not None, "the viewer to drop the bad stream")
        assert "garbage frame" in viewer.last_error and "\n" not in viewer.last_error
        await until(lambda: viewer.connects >= 2, "the viewer to try again by itself")
        assert not viewer.task.done()  # still running
        res = await viewer.request({"cmd": "incident.verb", "id": "INC-1", "verb": "acknowledge"})
        assert not res["ok"] and "nothing sent" in res["message"]
        await detach(viewer)
        protocol["v"] = 99
        with pytest.raises(RemoteError) as e:
            await RemoteSession(url).start()
        assert "protocol 99" in str(e.value) and "same opsconsole version" in str(e.value)
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.gather(task, return_exceptions=True)


async def test_a_collector_gone_before_the_screen_opens_is_one_line_and_exit_2():
    """`attach` checks the collector, then opens the screen: if it went away in between, no traceback."""
    import socket

    with socket.socket() as s:  # a port nothing listens on any more
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = OpsApp(RemoteSession(f"http://127.0.0.1:{port}/"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
    assert app.return_code == 2
    assert app.start_error.startswith(f"cannot reach the collector at http://127.0.0.1:{port}")
    assert "\n" not in app.start_error
