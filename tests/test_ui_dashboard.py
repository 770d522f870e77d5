"""Pilot tests of the dashboard: what a user sees, focus moving with keys, detail and help screens."""

from __future__ import annotations

import pytest

from console.clock import VirtualClock
from console.session import Session
from screens.app import OpsApp
from screens.dashboard import Dashboard
from screens.detail import ServiceDetail
from screens.help import HelpScreen
from tests.conftest import START, screen_text
from tests.conftest import advance_app as advance

pytestmark = pytest.mark.asyncio


def make_app(scenario: str = "normal") -> OpsApp:
    return OpsApp(Session(clock=VirtualClock(START), scenario=scenario, seed=1), autorun=False)


async def test_dashboard_shows_every_panel_filled():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 30)
        text = screen_text(app)
        for expected in ("Conversion health · pulse", "Verification debt · converge", "Rollout · path-tracker",
                         "Kill switches", "Active incidents", "Data pipeline · datapipe",
                         "degraded", "(expected)", "green", "▶35", "daily-digest", "ready", "p95"):
            assert expected in text, expected
        assert "✖" not in text


async def test_tab_and_arrows_move_focus_between_panels():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 5)
        dash = app.screen
        assert isinstance(dash, Dashboard)
        assert dash._focused_id() == "incident-table"  # incidents first
        await pilot.press("left")
        assert dash._focused_id() in ("conversion", "debt")  # the panel across, nearest the middle
        dash.query_one("#conversion").focus()
        await pilot.pause()
        await pilot.press("down")
        assert dash._focused_id() == "debt"
        await pilot.press("right")
        assert dash._focused_id() == "incident-table"
        await pilot.press("left")
        assert dash._focused_id() == "debt"
        await pilot.press("tab")
        assert dash._focused_id() == "rollout"


async def test_enter_opens_detail_with_plots_and_escape_returns():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 120)
        app.screen.query_one("#debt").focus()  # debt panel: converge
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ServiceDetail) and app.screen.service == "converge"
        await advance(app, pilot, 2)
        text = screen_text(app)
        assert "debt score · last hour" in text and "debt score 1" in text  # the figures box, named as read
        await pilot.press("escape")
        assert isinstance(app.screen, Dashboard)


async def test_enter_on_switch_table_opens_that_rows_service():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 10)
        from widgets.kill_switches import switch_rows

        app.screen.query_one("#switch-table").focus()
        row = [key for key, _ in switch_rows(app.session.state)].index("storytailor/daily-digest")
        await pilot.press(*["down"] * row, "enter")
        await pilot.pause()
        assert isinstance(app.screen, ServiceDetail) and app.screen.service == "storytailor"


async def test_question_mark_lists_every_key():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, pilot, 2)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for expected in ("Quit", "Detail", "Back"):
            assert expected in text
        await pilot.press("escape")
        assert isinstance(app.screen, Dashboard)


async def test_a_failing_service_shows_its_error_and_the_rest_keep_updating():
    app = make_app("service-down")
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 20)
        text = screen_text(app)
        strip = text[text.index("Data pipeline · datapipe"):]
        assert "✖ error:" in strip and "HTTP 503" in strip and "not ready" in strip
        assert "● pulse" in text and "● converge" in text


async def test_narrow_terminal_stacks_panels():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await advance(app, pilot, 5)
        assert app.screen.has_class("-narrow")
        text = screen_text(app)
        assert "Active incidents" in text and "Kill switches" in text  # incidents first, one column
