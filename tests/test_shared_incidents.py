"""Shared incidents with a real Alertmanager (Debian's 0.25): two consoles on one simulator send their rule
alerts as Prometheus does, show one incident with one id, share the ack, and survive Alertmanager going away."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from console.clock import VirtualClock, WallClock, parse_iso, utc_iso
from console.config.schema import parse_config
from console.demo import Demo, demo_config_dict
from console.incidents.shared import incident_id
from console.session import Session
from screens.app import OpsApp
from screens.incident_detail import IncidentDetail
from tests.conftest import require_binary, screen_text
from tests.test_alertmanager import AM_CONFIG, Alertmanager, _free_port

pytestmark = pytest.mark.external
TICK, RESEND = 5.0, 60.0
# The virtual clock runs a little behind the wall: Alertmanager judges endsAt by its own (wall) clock, so a
# firing alert's endsAt (now + 240 s) must lie ahead of the wall, and a resolved one's behind it.
BEHIND = 210.0


async def _start_alertmanager(tmp_path: Path, port: int) -> Alertmanager:
    binary = require_binary("prometheus-alertmanager")
    (tmp_path / "am.yml").write_text(AM_CONFIG)
    proc = await asyncio.create_subprocess_exec(
        binary, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    am = Alertmanager(f"http://127.0.0.1:{port}", proc)
    deadline = asyncio.get_running_loop().time() + 20
    async with httpx.AsyncClient() as c:
        while True:
            try:
                if (await c.get(f"{am.url}/-/ready", timeout=1)).status_code == 200:
                    return am
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline or proc.returncode is not None:
                await am.stop()
                pytest.fail("Alertmanager did not become ready")
            await asyncio.sleep(0.05)


async def _alerts(am: Alertmanager) -> list[dict]:
    async with httpx.AsyncClient() as c:
        return (await c.get(f"{am.url}/api/v2/alerts")).json()


class World:
    """One simulator (data pipeline down), one virtual clock, the consoles watching it."""

    def __init__(self, demo: Demo, clock: VirtualClock, am_url: str) -> None:
        self.demo, self.clock, self.am_url = demo, clock, am_url
        self.consoles: list[Session] = []

    def session(self, data_dir: Path, name: str) -> Session:
        """A console's session, not started (an app starts its own)."""
        table = demo_config_dict(self.demo.urls, tick=f"{TICK}s", data_dir=str(data_dir), record=False)
        table["environment"] = "war-room"
        table["services"].append({"name": "am", "kind": "alertmanager", "url": self.am_url, "interval": "1s"})
        table["alertmanager"] = {"send": True, "resend": f"{RESEND}s", "name": name}
        return Session(config=parse_config(table, "<test>"), clock=self.clock)

    async def console(self, data_dir: Path, user: str) -> Session:
        session = self.session(data_dir, user.split("@")[1])
        await session.start()
        session.engine.incidents.user = user
        self.consoles.append(session)
        return session

    async def tick(self, advance: float = TICK) -> None:
        """Advance the clock and tick every console; wait until what each sender queued is posted."""
        self.clock.advance(advance)
        for s in self.consoles:
            s.engine.expedite("am")  # an Alertmanager poll every tick: "within one poll" is one tick here
            await s.engine.tick()
        await asyncio.gather(*(s.sender.idle() for s in self.consoles))

    async def until(self, check, what: str, ticks: int = 30):
        for _ in range(ticks):
            result = check()
            if result:
                return result
            await self.tick()
        pytest.fail(f"not within {ticks} ticks: {what}")


@pytest.fixture
async def world(tmp_path, monkeypatch):
    monkeypatch.delenv("OPSCONSOLE_DATA_DIR")  # each console keeps its own store, as on two machines
    port = _free_port()
    am = await _start_alertmanager(tmp_path, port)
    clock = VirtualClock(WallClock().now() - BEHIND)
    demo = Demo(clock, scenario="service-down", seed=1)
    await demo.start()
    w = World(demo, clock, am.url)
    w.am, w.port, w.tmp = am, port, tmp_path
    yield w
    for s in w.consoles:
        await s.stop()
    await demo.stop()
    await w.am.stop()


def _down(session: Session):
    return next((i for i in session.state.incidents if i.rule == "ServiceDown"), None)


async def test_two_consoles_one_incident_ack_shared_and_expired_on_resolve(world):
    a = await world.console(world.tmp / "alice", "alice@wall")
    b = await world.console(world.tmp / "bob", "bob@laptop")
    inc_a, inc_b = await world.until(lambda: _down(a) and _down(b) and (_down(a), _down(b)), "ServiceDown in both")
    fired = world.clock.now()

    # Alertmanager received one alert, with the labels both consoles compute and nothing per console
    [alert] = [x for x in await _alerts(world.am) if x["labels"]["alertname"] == "ServiceDown"]
    labels = alert["labels"]
    assert labels["service"] == "datapipe" and labels["severity"] == "P1" and "instance" not in labels
    assert alert["annotations"]["runbook"] == "004_3b25d9bb95b182cc.txt#Service Down"
    assert alert["annotations"]["summary"] and alert["generatorURL"].startswith("opsconsole://")
    # endsAt = now + 4 × max(tick, resend), sent at the tick it fired
    assert abs(parse_iso(alert["endsAt"][:19] + "Z") - (fired + 4 * RESEND)) <= 1
    # one incident, one id, on both consoles: the id comes from the label set
    assert inc_a.id == inc_b.id == incident_id(labels)
    assert inc_a.shared == "sending"  # the post is under way; the next state says how it went
    await world.tick(1.0)
    assert inc_a.shared == inc_b.shared == "shared"

    # no resend before `resend` has passed: Alertmanager still holds the first endsAt ...
    await world.tick(29.0)
    [alert] = [x for x in await _alerts(world.am) if x["labels"]["alertname"] == "ServiceDown"]
    assert abs(parse_iso(alert["endsAt"][:19] + "Z") - (fired + 4 * RESEND)) <= 1
    # ... then one, with endsAt moved on
    await world.tick(35.0)
    [alert] = [x for x in await _alerts(world.am) if x["labels"]["alertname"] == "ServiceDown"]
    assert abs(parse_iso(alert["endsAt"][:19] + "Z") - (world.clock.now() + 4 * RESEND)) <= 1

    # ack in console 1: a silence with the recognisable comment; console 2 shows it, with its owner, in one poll
    r = await a.request({"cmd": "incident.verb", "id": inc_a.id, "verb": "acknowledge", "comment": "on it",
                         "duration": 200.0})
    assert r["ok"], r
    async with httpx.AsyncClient() as c:
        [sil] = [s for s in (await c.get(f"{world.am.url}/api/v2/silences")).json()
                 if s["status"]["state"] == "active"]
    assert sil["comment"] == f"opsconsole ack: {inc_a.id} by alice@wall: on it" and sil["createdBy"] == "alice@wall"
    assert {m["name"]: m["value"] for m in sil["matchers"]} == labels
    await world.tick(1.0)
    assert inc_b.state == "acknowledged"
    assert next(e for e in inc_b.timeline if e.state == "acknowledged").who == "alice@wall"
    # the ack silence ends in 200 s while the alert fires: the consoles extend it (same silence, later end)
    async with httpx.AsyncClient() as c:
        ext = (await c.get(f"{world.am.url}/api/v2/silence/{sil['id']}")).json()
    assert ext["status"]["state"] == "active"
    assert parse_iso(ext["endsAt"][:19] + "Z") > parse_iso(sil["endsAt"][:19] + "Z") + 300

    # the alert resolves: sent with endsAt = the resolve time, and the ack silence is expired at once
    world.demo.fleet.set_scenario("normal")
    await world.until(lambda: inc_a.recovered_at is not None and inc_b.recovered_at is not None, "recovery")
    await world.tick(1.0)
    async with httpx.AsyncClient() as c:
        gone = (await c.get(f"{world.am.url}/api/v2/silence/{sil['id']}")).json()
        resolved = (await c.get(f"{world.am.url}/api/v2/alerts", params={"active": "false"})).json()
    assert gone["status"]["state"] == "expired"
    assert not [x for x in await _alerts(world.am) if x["labels"]["alertname"] == "ServiceDown"]
    assert inc_a.silence_id is None and inc_a.state == "acknowledged"  # the human still resolves it
    assert resolved == [] or all(x["labels"]["alertname"] != "ServiceDown" for x in resolved)


async def test_alertmanager_down_backlog_delivered_when_it_returns(world):
    await world.am.stop()  # down before anything fires
    a = await world.console(world.tmp / "alice", "alice@wall")
    inc = await world.until(lambda: _down(a), "ServiceDown")
    await world.tick()
    state = a.state
    assert state.sharing.failures >= 1 and "unreachable" in state.sharing.error
    assert inc.shared.startswith("not shared: ")
    assert any(r.name == "ServiceDown" and r.state == "firing" for r in state.rules)  # it keeps evaluating
    world.am = await _start_alertmanager(world.tmp, world.port)  # back, empty (alerts live in memory)
    await world.tick(RESEND)  # the next resend carries the backlog
    [alert] = [x for x in await _alerts(world.am) if x["labels"]["alertname"] == "ServiceDown"]
    assert incident_id(alert["labels"]) == inc.id
    await world.tick(1.0)  # the next state says so
    assert a.state.sharing.error is None and inc.shared == "shared"


async def test_the_screen_shows_sharing_the_ack_owner_and_expires_a_stale_ack(world):
    session = world.session(world.tmp / "alice", "wall")
    app = OpsApp(session, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        session.engine.incidents.user = "alice@wall"
        world.consoles.append(session)
        b = await world.console(world.tmp / "bob", "bob@laptop")
        inc = await world.until(lambda: _down(session) and _down(b), "ServiceDown in both")
        await world.tick(1.0)
        await pilot.pause()
        # what the header counts is what Alertmanager holds: ServiceDown, and any alert the simulated path
        # tracker's webhook failures raised on the way (its draws follow the time of day the clock starts at)
        alerts = await _alerts(world.am)
        assert "ServiceDown" in {x["labels"]["alertname"] for x in alerts}
        assert f"◆ Alertmanager {len(alerts)} sent" in screen_text(app)

        assert (await b.request({"cmd": "incident.verb", "id": inc.id, "verb": "acknowledge"}))["ok"]
        app.open_incident(inc.id)
        await world.tick(1.0)  # one poll
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, IncidentDetail)
        text = screen_text(app)
        assert f"{inc.id}  P1" in text, text
        assert "· shared ·" in text and "acked by bob@laptop 0s ago" in text, text

        # an ack silence left from an alert that is gone: listed, and X expires it in Alertmanager
        now = WallClock().now()
        body = {"matchers": [{"name": "alertname", "value": "Gone", "isRegex": False, "isEqual": True}],
                "startsAt": utc_iso(now), "endsAt": utc_iso(now + 3600), "createdBy": "carol@old",
                "comment": "opsconsole ack: INC-AAAAAA by carol@old"}
        async with httpx.AsyncClient() as c:
            stale_id = (await c.post(f"{world.am.url}/api/v2/silences", json=body)).json()["silenceID"]
        await world.tick(1.0)
        await world.tick(1.0)  # seen by two polls: not one made between the alerts and the silences request
        await pilot.pause()
        text = screen_text(app)
        box = str(app.screen.query_one("#inc-stale").render())
        assert "Stale ack silences" in text and "carol@old" in box and "bob@laptop" not in box  # bob's ack is live
        await pilot.press("X")
        await app.workers.wait_for_complete()
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"{world.am.url}/api/v2/silence/{stale_id}")).json()["status"]["state"] == "expired"
        await world.tick(1.0)
        await pilot.pause()
        assert "Stale ack silences" not in screen_text(app)

        # un-ack from this console: the silence expires, and the other console shows it triggered again
        ack_id = inc.silence_id
        await pilot.press("U")
        await app.workers.wait_for_complete()
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"{world.am.url}/api/v2/silence/{ack_id}")).json()["status"]["state"] == "expired"
        await world.tick(1.0)
        assert _down(b).state == "triggered"
        world.consoles.remove(session)  # the app stops its own session


async def test_opsconsole_incidents_lists_stale_ack_silences(world, tmp_path):
    async def silence(name: str, by: str) -> str:
        now = WallClock().now()
        body = {"matchers": [{"name": "alertname", "value": name, "isRegex": False, "isEqual": True}],
                "startsAt": utc_iso(now), "endsAt": utc_iso(now + 3600), "createdBy": by,
                "comment": f"opsconsole ack: INC-AAAAAA by {by}"}
        async with httpx.AsyncClient() as c:
            return (await c.post(f"{world.am.url}/api/v2/silences", json=body)).json()["silenceID"]

    async with httpx.AsyncClient() as c:
        (await c.post(f"{world.am.url}/api/v2/alerts", json=[{"labels": {"alertname": "Live"}}])).raise_for_status()
    live, gone = await silence("Live", "dave@desk"), await silence("Gone", "carol@old")
    cfg = tmp_path / "ops.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "cli"}"\n[[services]]\nname = "am"\nkind = "alertmanager"\n'
                   f'url = "{world.am.url}"\n')
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "console.cli", "incidents", "--config", str(cfg),
                                                "--stale-acks", stdout=asyncio.subprocess.PIPE)
    out = (await proc.communicate())[0].decode()
    assert proc.returncode == 0
    assert f"{gone}  am  by carol@old" in out and live not in out and "dave@desk" not in out


async def test_a_restarted_console_keeps_the_shared_incident(world):
    a = await world.console(world.tmp / "alice", "alice@wall")
    inc = await world.until(lambda: _down(a), "ServiceDown")
    labels = dict(inc.alert_labels)
    await a.stop()  # its store is flushed and closed
    world.consoles.remove(a)
    again = await world.console(world.tmp / "alice", "alice@wall")
    await world.tick()
    [same] = [i for i in again.state.incidents if i.rule == "ServiceDown"]  # one, not a second after the restart
    assert same.id == inc.id == incident_id(labels) and same.alert_labels == labels
    assert same.opened_at == inc.opened_at
