"""A real Alertmanager (Debian's prometheus-alertmanager): alerts become incidents, acknowledgements are silences
shared by every console, and a dead or garbled Alertmanager leaves the other incidents working."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import httpx
import pytest

from console.clock import VirtualClock, WallClock, parse_iso
from console.config.schema import parse_config
from console.demo import Demo
from console.engine import Engine
from console.incidents.manager import IncidentError
from tests.conftest import require_binary

pytestmark = pytest.mark.external
AM_CONFIG = "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n"
TOKEN_ENV, TOKEN = "OPSCONSOLE_TEST_AM_TOKEN", "am-token-s3cr3t-7f9a"
LABELS = {"alertname": "HighErrorRate", "service": "datapipe", "severity": "critical"}
KEY = "HighErrorRate/am{service=datapipe,severity=critical}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _until(check, what: str, *engines: Engine, timeout: float = 15.0):
    """Tick the consoles (polling Alertmanager now) until `check()` holds; fail after a bounded deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for e in engines:
            e.expedite("am")
            await e.tick()
        result = check()
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # a poll interval, not a guess: the condition decides


class Alertmanager:
    def __init__(self, url: str, proc) -> None:
        self.url, self.proc = url, proc

    async def post_alerts(self, *alerts: dict) -> None:
        async with httpx.AsyncClient() as c:
            (await c.post(f"{self.url}/api/v2/alerts", json=list(alerts))).raise_for_status()

    async def silences(self) -> list[dict]:
        async with httpx.AsyncClient() as c:
            return (await c.get(f"{self.url}/api/v2/silences")).json()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


@pytest.fixture
async def alertmanager(tmp_path):
    binary = require_binary("prometheus-alertmanager")
    port = _free_port()
    (tmp_path / "am.yml").write_text(AM_CONFIG)
    proc = await asyncio.create_subprocess_exec(
        binary, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    am = Alertmanager(f"http://127.0.0.1:{port}", proc)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    async with httpx.AsyncClient() as c:
        while True:
            try:
                if (await c.get(f"{am.url}/-/ready", timeout=1)).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if loop.time() > deadline or proc.returncode is not None:
                await am.stop()
                pytest.fail("Alertmanager did not become ready")
            await asyncio.sleep(0.05)
    yield am
    await am.stop()


def _am_service(url: str) -> dict:
    return {"name": "am", "kind": "alertmanager", "url": url, "interval": "1s",
            "auth": {"type": "bearer", "token_env": TOKEN_ENV}}


async def _console(url: str, data_dir: Path, user: str, clock=None) -> Engine:
    """One console (its own data dir, as on another machine) watching the Alertmanager."""
    cfg = parse_config({"environment": "war-room", "data_dir": str(data_dir), "services": [_am_service(url)]}, "<t>")
    engine = Engine(cfg, clock or WallClock())
    engine.incidents.user = user
    await engine.start()
    return engine


@pytest.fixture
async def consoles(alertmanager, tmp_path, monkeypatch):
    monkeypatch.delenv("OPSCONSOLE_DATA_DIR")  # each console keeps its own store, as on two machines
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    a = await _console(alertmanager.url, tmp_path / "alice", "alice@wall")
    b = await _console(alertmanager.url, tmp_path / "bob", "bob@laptop")
    yield a, b
    await a.stop()
    await b.stop()


def _inc(engine: Engine):
    return next((i for i in engine.incidents.incidents.values() if i.key == KEY), None)


async def test_ack_is_a_silence_that_every_console_shows(alertmanager, consoles):
    a, b = consoles
    await alertmanager.post_alerts({"labels": LABELS, "annotations": {"summary": "5xx above 5 %"}})
    inc_a, inc_b = await _until(lambda: _inc(a) and _inc(b) and (_inc(a), _inc(b)), "the alert as incidents", a, b)
    assert (inc_a.source, inc_a.severity, inc_a.state, inc_a.summary) == ("alertmanager", "P1", "triggered",
                                                                          "5xx above 5 %")
    assert inc_a.runbook == "004_3b25d9bb95b182cc.txt#High Error Rate"  # the rule of the same name's playbook

    await a.incidents.acknowledge(inc_a.id, comment="rolling back", duration=900)
    silences = [s for s in await alertmanager.silences() if s["status"]["state"] == "active"]
    assert len(silences) == 1
    sil = silences[0]
    assert sil["createdBy"] == "alice@wall" and sil["comment"] == "rolling back"
    assert {m["name"]: m["value"] for m in sil["matchers"]} == LABELS
    assert all(m["isEqual"] and not m["isRegex"] for m in sil["matchers"])
    assert abs(parse_iso(sil["endsAt"][:19] + "Z") - parse_iso(sil["startsAt"][:19] + "Z") - 900) <= 2
    assert inc_a.state == "acknowledged" and inc_a.silence_id == sil["id"]

    await _until(lambda: inc_b.state == "acknowledged", "the second console to show the ack", a, b)
    ack = next(e for e in inc_b.timeline if e.state == "acknowledged")
    assert ack.who == "alice@wall" and sil["id"] in ack.text and "rolling back" in ack.text
    assert inc_a.state == "acknowledged"  # its own poll agrees: no flapping back
    await _until(lambda: inc_b.info.get("state") == "suppressed", "Alertmanager's suppressed state", a, b)

    await a.incidents.unacknowledge(inc_a.id)
    states = {s["id"]: s["status"]["state"] for s in await alertmanager.silences()}
    assert states[sil["id"]] == "expired"
    await _until(lambda: inc_b.state == "triggered", "the second console to show the un-ack", a, b)
    assert inc_b.timeline[-1].text == f"unacknowledged: silence {sil['id']} expired"
    assert inc_a.state == "triggered"


async def test_a_silence_made_elsewhere_acknowledges_and_a_resolved_alert_recovers(alertmanager, consoles):
    a, _ = consoles
    await alertmanager.post_alerts({"labels": LABELS})
    inc = await _until(lambda: _inc(a), "the incident", a)
    clock = WallClock()
    matchers = [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in LABELS.items()]
    body = {"matchers": matchers, "startsAt": _iso(clock.now()), "endsAt": _iso(clock.now() + 600),
            "createdBy": "carol@amtool", "comment": "known, deploy in progress"}
    async with httpx.AsyncClient() as c:
        (await c.post(f"{alertmanager.url}/api/v2/silences", json=body)).raise_for_status()
    await _until(lambda: inc.state == "acknowledged", "the outside silence as an ack", a)
    assert inc.timeline[-1].who == "carol@amtool"
    # the alert resolves in Alertmanager: the incident shows recovered, and stays for a human to resolve
    await alertmanager.post_alerts({"labels": LABELS, "endsAt": _iso(clock.now() - 60)})
    await _until(lambda: inc.recovered_at is not None, "the incident to recover", a)
    assert inc.state == "acknowledged"
    a.incidents.resolve(inc.id, resolution="deploy finished")
    await alertmanager.post_alerts({"labels": LABELS})  # fires again within the grace: reopened, not duplicated
    await _until(lambda: inc.state == "triggered", "the incident to reopen", a)
    assert [i for i in a.incidents.incidents.values() if i.key == KEY] == [inc]


async def test_a_read_only_console_sends_no_silence(alertmanager, tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    cfg = parse_config({"environment": "war-room", "read_only": True, "data_dir": str(tmp_path / "ro"),
                        "services": [_am_service(alertmanager.url)]}, "<t>")
    engine = Engine(cfg, WallClock())
    await engine.start()
    try:
        await alertmanager.post_alerts({"labels": LABELS})
        inc = await _until(lambda: _inc(engine), "the incident", engine)
        with pytest.raises(IncidentError, match="read-only"):
            await engine.incidents.acknowledge(inc.id)
        assert inc.state == "triggered" and await alertmanager.silences() == []
    finally:
        await engine.stop()


def _iso(ts: float) -> str:
    from console.clock import utc_iso

    return utc_iso(ts)


async def _garbage_server() -> tuple[asyncio.AbstractServer, str]:
    """Answers every request with 200 and a body that is not JSON: an Alertmanager gone wrong."""

    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        body = b"<html>502 bad gateway</html>"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_dead_or_garbled_alertmanager_leaves_other_incidents_working(alertmanager, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    clock = VirtualClock(WallClock().now())
    demo = Demo(clock, scenario="service-down", seed=1)
    cfg = await demo.start(tick=5.0)
    garbage, garbage_url = await _garbage_server()
    services = [*cfg.model_dump()["services"], _am_service(alertmanager.url),
                {**_am_service(garbage_url), "name": "am-garbled"}]
    engine = Engine(cfg.model_copy(update={"services": parse_config({"services": services}, "<t>").services}), clock)
    await engine.start()
    try:
        await alertmanager.post_alerts({"labels": LABELS})
        await _until(lambda: _inc(engine), "the Alertmanager incident", engine)
        garbled = engine.state.services["am-garbled"].error
        assert garbled and garbled.startswith("alerts: not JSON") and "\n" not in garbled
        await alertmanager.stop()  # Alertmanager dies
        for _ in range(12):
            clock.advance(5.0)
            await engine.tick()
        state = engine.state
        assert "unreachable" in state.services["am"].error
        am_inc = _inc(engine)
        assert am_inc.is_open and am_inc.recovered_at is None  # unknown is not recovered
        down = next(i for i in state.incidents if i.rule == "ServiceDown")  # the rules' incidents go on
        await engine.incidents.acknowledge(down.id)
        assert down.state == "acknowledged"
        with pytest.raises(IncidentError) as err:  # acknowledging needs Alertmanager: refused, in one line
            await engine.incidents.acknowledge(am_inc.id)
        assert str(err.value).startswith("Alertmanager am: unreachable") and am_inc.state == "triggered"
        await engine.stop()
        everything = str(state.to_json()) + str(err.value) + garbled + state.services["am"].error
        stored = b"".join(p.read_bytes() for p in Path(os.environ["OPSCONSOLE_DATA_DIR"]).rglob("*") if p.is_file())
        assert TOKEN not in everything and TOKEN.encode() not in stored
    finally:
        await engine.stop()
        garbage.close()
        await demo.stop()
