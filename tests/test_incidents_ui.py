"""Pilot tests of incidents as a user works them: the table's keys, the detail screen, drafts, mitigations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.clock import VirtualClock
from console.session import Session
from screens.app import OpsApp
from screens.dashboard import Dashboard
from screens.help import HelpScreen
from screens.incident_detail import IncidentDetail
from screens.incident_dialog import IncidentDialog
from tests.conftest import START, advance_app, screen_text


async def advance(app, pilot, seconds: float, step: float = 5.0) -> None:
    """5 s ticks: these tests cover many virtual minutes."""
    await advance_app(app, pilot, seconds, step)


USER = "tester@war-room"


@pytest.fixture(autouse=True)
def _user(monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_USER", USER)


async def stalled_app(pilot) -> OpsApp:
    """The demo fleet, a calm minute, then Pulse stops: ConversionPipelineStall fires (P2)."""
    app = pilot.app
    await advance(app, pilot, 60)
    app.session.demo.fleet.set_scenario("conversion-stall")
    await advance(app, pilot, 330)
    return app


def make_app() -> OpsApp:
    return OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)


def stall(app: OpsApp):
    return next(i for i in app.session.engine.state.incidents if i.rule == "ConversionPipelineStall")


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_incident_table_shows_state_timers_and_works_with_a_m_r(tmp_path):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await stalled_app(pilot)
        inc = stall(app)
        await pilot.press("right")  # the incident table
        assert app.screen._focused_id() == "incident-table"
        table = app.screen.query_one("#incident-table")
        table.move_cursor(row=[i.id for i in app.session.engine.state.incidents].index(inc.id))
        text = screen_text(app)
        assert inc.id in text and "● triggered" in text and "ConversionPipelineStall on pulse" in text  # the width is used (issue 16)
        assert "ack 0/5m" in text and "in 15m" in text  # the response target and the P2 update countdown
        assert "a Ack" in text and "m Mitigating" in text and "r Resolve" in text  # the footer, while focused
        await advance(app, pilot, 360)
        assert "▲ ack 6/5m" in screen_text(app)  # overdue: red with a symbol

        await pilot.press("a")
        await settle(pilot)
        assert inc.state == "acknowledged" and "◐ acknowledged" in screen_text(app)
        await pilot.press("m")
        await settle(pilot)
        assert inc.state == "mitigating"
        app.session.demo.fleet.set_scenario("normal")  # the events flow again
        await advance(app, pilot, 60)
        assert "↺ recovered" in screen_text(app) and "✓ mitigated" in screen_text(app)
        assert inc.state == "mitigating"

        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, IncidentDialog)
        await pilot.press(*"restarted Pulse", "enter", *"handler deadlock", "enter", "enter")
        await settle(pilot)
        assert inc.state == "resolved" and inc.notes == {"resolution": "restarted Pulse",
                                                         "root_cause": "handler deadlock"}
        assert isinstance(app.screen, Dashboard) and "✓ resolved" in screen_text(app)
        assert [e.who for e in inc.timeline if e.kind == "state"][1:] == [USER, USER, USER]


async def test_escape_in_the_resolve_dialog_changes_nothing():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await stalled_app(pilot)
        inc = stall(app)
        await pilot.press("right")
        app.screen.query_one("#incident-table").move_cursor(
            row=[i.id for i in app.session.engine.state.incidents].index(inc.id))
        await pilot.press("r")
        await pilot.pause()
        await pilot.press(*"oops", "escape")
        await settle(pilot)
        assert inc.state == "triggered" and isinstance(app.screen, Dashboard)


async def test_detail_shows_playbook_live_values_drafts_timeline_and_runs_a_mitigation():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await stalled_app(pilot)
        inc = stall(app)
        app.open_incident(inc.id)
        await settle(pilot)
        assert isinstance(app.screen, IncidentDetail)
        text = screen_text(app)
        for expected in ("Playbook · Pipeline Stall (health: stale)", "→ status reported: stale",
                         "→ events rate 1m: 0.00/s", "→ test event: not run (conversion.test_event)",
                         "[INCIDENT] ConversionPipelineStall on pulse - P2", "Status: INVESTIGATING",
                         "ETA: <unknown>", "opened: ConversionPipelineStall firing", "threshold 1",
                         "next stakeholder update in"):
            assert expected in text, expected
        assert "1 Send the runbook's test conversion event (expect 202)" in text and "conversion.test_event)" in text
        assert "2 " in text and "(conversion.disable_all)" in text
        # the plot's title says where its line starts: the console's first minute, not 15 minutes before it existed
        from console.clock import hms
        from widgets.series_chart import SeriesChart
        title = str(app.screen.query_one("#inc-plot", SeriesChart).border_title)
        assert title.startswith(f"ConversionPipelineStall from {hms(START)[:5]}"), title

        await pilot.press("t")  # the update template
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard.startswith("[UPDATE] ConversionPipelineStall on pulse - P2")
        assert inc.timeline[-1].kind == "update" and inc.next_update() == app.session.engine.clock.now() + 900
        await pilot.press("e")
        await settle(pilot)
        written = list((Path(os.environ["OPSCONSOLE_DATA_DIR"]) / "drafts").glob(f"{inc.id}-update-*.txt"))
        assert len(written) == 1 and written[0].read_text().startswith("[UPDATE]")

        await pilot.press("1")  # the playbook's first mitigation: the test event, through the confirm dialog
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("y")
        await settle(pilot)
        await advance(app, pilot, 10)
        assert app.session.demo.fleet.test_events == 1  # the simulator received it
        text = screen_text(app)
        assert "→ test event: confirmed" in text, text
        assert any(e.kind == "action" and "conversion.test_event" in e.text for e in inc.timeline)

        await pilot.press("a")
        await settle(pilot)
        assert inc.state == "acknowledged" and "acknowledged" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, Dashboard)


async def test_help_lists_the_incident_keys():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 5)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Incident table" in text and "Incident detail" in text
        await pilot.press("pagedown")  # the rest of the list is a scroll away
        await pilot.pause()
        assert "Copy draft" in screen_text(app)


async def test_incident_keys_can_be_remapped_by_id():
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1, keys={"incident.ack": "k"}),
                 autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await stalled_app(pilot)
        inc = stall(app)
        app.open_incident(inc.id)
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert inc.state == "triggered"
        await pilot.press("k")
        await settle(pilot)
        assert inc.state == "acknowledged"
