"""The war-room wall (`--layout wall`): what a room reads from it, on a fake façade and on a real demo."""

from __future__ import annotations

import re
import time

import pytest

from console.incidents.model import Entry, Incident
from console.state import EndpointState, RuleState
from screens.app import OpsApp
from screens.dashboard import Dashboard
from screens.wall import Wall
from tests.conftest import screen_text
from tests.fake_facade import FakeFacade, state

SIZES = [(160, 48), (120, 40), (80, 24), (240, 67)]


def incident(id_: str, severity: str, service: str, opened_ago: float, now: float, title: str = "Stall",
             state_: str = "triggered") -> Incident:
    inc = Incident(id_, f"k-{id_}", title, severity, "rule", service, "", title, opened_at=now - opened_ago)
    inc.timeline.append(Entry(now - opened_ago, "state", "opened", state="triggered"))
    if state_ != "triggered":
        inc.state = state_
        inc.timeline.append(Entry(now - opened_ago + 60, "state", state_, state=state_))
    return inc


def war_state():
    """Two P2s (one acknowledged), one P3, one resolved P1; datapipe failing, converge firing."""
    st = state(converge={"debt_score": 82.0, "debt_band": "red", "debt_red": 70},
               datapipe={"error_ratio_5m": 0.07, "error_ratio_threshold": 0.05},
               **{"path-tracker": {"percent": 35}})
    now = st.ts
    for name, svc in st.services.items():
        svc.endpoints["main"] = EndpointState("main", data={}, last_ok=now - 2, last_poll=now - 2)
    st.services["datapipe"].endpoints["main"].error = "HTTP 503"
    st.rules = [RuleState("DebtHigh", "converge", "P2", "firing", 82.0, {}, now - 500, now - 420, "", "", "", 60.0)]
    resolved = incident("INC-1", "P1", "pulse", 4000, now, state_="resolved")
    st.incidents = [incident("INC-2", "P2", "converge", 420, now, title="Verification debt high"),  # ack overdue
                    incident("INC-3", "P2", "datapipe", 200, now, title="Data pipeline down"),  # ack due in 1:40
                    incident("INC-4", "P3", "path-tracker", 540, now, title="Fallback spike", state_="acknowledged"),
                    resolved]
    return st


@pytest.mark.parametrize("size", SIZES)
async def test_the_wall_shows_counts_incidents_timers_and_a_tile_per_service(size):
    fake = FakeFacade(war_state())
    app = OpsApp(fake, autorun=False, layout="wall")
    async with app.run_test(size=size) as pilot:
        fake.publish()
        await pilot.pause()
        assert isinstance(app.screen, Wall)
        text = screen_text(app)
        # counts of *open* incidents by severity (the resolved P1 is not counted), in large digits
        counts = {box.key: box.digits.value for box in app.screen.query("SeverityCount")}
        assert counts == {"P1": "0", "P2": "2", "P3": "1", "P4": "0", "unacked": "2"}
        # the nearest runbook target: INC-2's acknowledgement, 2 minutes overdue
        assert app.screen.query_one("#next-target").digits.value == "-02:00"
        assert "INC-2 ack overdue" in text
        # one line per open incident, with its state word and its response timer; the resolved one is gone
        assert re.search(r"P2 +● TRIGGERED +INC-2 .*Verification debt high · converge.*▲ ack 7/5m", text)
        assert re.search(r"P2 +● TRIGGERED +INC-3 .*▲?\s*ack 3/5m", text)
        assert re.search(r"P3 +◐ ACKED +INC-4 .*assess 9/10m", text)
        assert "INC-1" not in text
        if size[0] >= 120:  # and, where it fits, the P1/P2 stakeholder update countdown (every 15 min)
            assert re.search(r"INC-2 .*▲ ack 7/5m +upd in 8m", text)
            assert not re.search(r"INC-4 [^\n]*upd", text)  # a P3 owes no update
        # a tile per service: its name, state word and symbol, its key figure
        tiles = {t.service: t for t in app.screen.query("ServiceTile")}
        assert set(tiles) == {"pulse", "storytailor", "converge", "path-tracker", "datapipe"}
        for name, word in {"datapipe": "✖ ERROR", "converge": "▲ FIRING", "path-tracker": "◑ INCIDENT",
                           "pulse": "● OK", "storytailor": "● OK"}.items():
            assert tiles[name].word.text.endswith(f"{word}[/]"), (name, tiles[name].word.text)
            assert word in text
        assert "debt 82 red" in text and "rollout 35%" in text and "5xx ▲ 7.00%" in text
        # what the wall leaves out: no kill-switch table, no activity table
        assert "Kill switches" not in text and "Activity" not in text
        # every tile fits on the screen (none pushed below the footer)
        for tile in tiles.values():
            assert tile.region.bottom <= size[1] and tile.region.right <= size[0], (name, tile.region)


async def test_incidents_that_do_not_fit_are_counted():
    st = war_state()
    now = st.ts
    st.incidents = [incident(f"INC-{n}", "P3", "pulse", 60 + n, now, title=f"t{n}") for n in range(40)]
    fake = FakeFacade(st)
    app = OpsApp(fake, autorun=False, layout="wall")
    async with app.run_test(size=(80, 24)) as pilot:
        fake.publish()

        def counted() -> tuple[int, int]:
            text = screen_text(app)
            m = re.search(r"\+ (\d+) more open", text)
            return len(re.findall(r"TRIGGERED +INC-\d+ ", text)), int(m.group(1)) if m else 0

        # the rows are mounted on the first state and refilled once the panel knows its height: wait for that
        # layout (a deadline, not a fixed wait), then every incident is either a line or in the count
        deadline = time.monotonic() + 10
        while sum(counted()) != 40 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        shown, more = counted()
        assert more and shown + more == 40, (shown, more)


async def test_w_switches_between_wall_and_dashboard_and_q_and_help_work():
    fake = FakeFacade(war_state())
    app = OpsApp(fake, autorun=False)  # the dashboard first
    async with app.run_test(size=(120, 40)) as pilot:
        fake.publish()
        await pilot.pause()
        assert isinstance(app.screen, Dashboard)
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, Wall) and "Open incidents" in screen_text(app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert "Wall (--layout wall)" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, Wall)
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, Dashboard) and "Kill switches" in screen_text(app)
        await pilot.press("w", "q")  # q on the wall: incidents unacknowledged, so it asks first
        await pilot.pause()
        assert "unacknowledged" in screen_text(app)
    assert [c["cmd"] for c in fake.sent] == []  # the wall sends nothing


async def test_the_wall_follows_new_states_and_the_dashboard_catches_up():
    fake = FakeFacade(war_state())
    app = OpsApp(fake, autorun=False, layout="wall")
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        st = war_state()
        st.incidents = []
        st.rules = []
        st.services["datapipe"].endpoints["main"].error = None
        fake.publish(st)
        await pilot.pause()
        text = screen_text(app)
        assert "no open incident" in text and "ERROR" not in text and "FIRING" not in text
        assert app.screen.query_one("#next-target").digits.value == "--:--"
        await pilot.press("w")
        await pilot.pause()
        assert "no open incident" in screen_text(app)  # the dashboard shows the newest state too


async def test_hostile_service_text_is_never_markup():
    st = war_state()
    now = st.ts
    st.services["datapipe"].endpoints["main"].error = "[bold red]pwned[/] \x1b[2J\x1b]0;title\x07"
    st.incidents = [incident("INC-9", "P2", "datapipe", 30, now, title="[link=http://x]click[/link] [b]x\x1b[31m\\")]
    from console.state import ServiceState

    st.services["[b]x[/b]"] = ServiceState("[b]x[/b]", "scrape", "t", figures={"up": 1.0})
    fake = FakeFacade(st)
    app = OpsApp(fake, autorun=False, layout="wall")
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        text = screen_text(app)
        assert "[link=http://x]click[/link] [b]x" in text  # shown as typed
        assert "\x1b" not in text and "ERROR" in text
        assert "[b]x[/b]" in text  # a tile's name as typed


def test_a_bad_layout_in_the_config_exits_2_naming_file_and_key(tmp_path, capsys):
    from console.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('[[services]]\nname = "p"\nkind = "scrape"\nurl = "http://127.0.0.1:9/metrics"\n'
                   '[layout]\ndefault = "wallpaper"\n')
    assert main(["run", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"opsconsole: {cfg}: layout.default:") and "wall" in err and len(err.splitlines()) == 1


def test_layout_wall_in_the_config_is_read(tmp_path):
    from console.config.schema import load_config

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[[services]]\nname = "p"\nkind = "scrape"\n'
                   'url = "http://127.0.0.1:9/metrics"\n[layout]\ndefault = "wall"\n')
    assert load_config(cfg).layout.default == "wall"


async def test_a_demo_with_layout_wall_shows_the_incident_the_scenario_opens():
    """The real engine on the simulator (service-down: datapipe answers 503, a P1): the wall says so."""
    from console.clock import VirtualClock
    from console.session import Session
    from tests.conftest import START
    from tests.conftest import advance_app as advance

    app = OpsApp(Session(clock=VirtualClock(START), scenario="service-down", seed=1), autorun=False, layout="wall")
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, pilot, 150)
        assert isinstance(app.screen, Wall)
        text = screen_text(app)
        opened = [i for i in app.session.state.incidents if i.is_open]
        assert opened, "the scenario opened no incident"
        assert any(i.severity == "P1" and i.service == "datapipe" for i in opened)
        p1 = sum(i.severity == "P1" for i in opened)
        assert app.screen.query_one("#count-P1").digits.value == str(p1)
        for inc in opened:
            assert re.search(rf"{inc.severity} +● TRIGGERED +{inc.id} .*datapipe.*ack \d+/5m", text), inc.id
        tile = next(t for t in app.screen.query("ServiceTile") if t.service == "datapipe")
        assert re.search(r"(ERROR|FIRING)", tile.word.text)
        assert app.screen.query_one("#next-target").digits.value not in ("--:--", "")
