"""The footer (widgets/footer.py): the focused panel's keys on one line, whole keys only, the palette at the edge."""

from __future__ import annotations

import pytest

from console.clock import VirtualClock
from console.session import Session
from screens.app import OpsApp
from widgets.footer import KeysFooter
from tests.conftest import START, screen_text
from tests.conftest import advance_app as advance

pytestmark = pytest.mark.asyncio


def footer_line(app) -> str:
    return screen_text(app).splitlines()[-1]


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.pause()


async def test_the_footer_follows_focus():
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 5)
        assert "a Ack" in footer_line(app) and "x Toggle row" not in footer_line(app)  # incidents focused first
        assert footer_line(app).rstrip().endswith("^p palette")
        app.screen.query_one("#switch-table").focus()
        await _settle(pilot)
        assert "x Toggle row" in footer_line(app) and "a Ack" not in footer_line(app)
        app.screen.query_one("#conversion").focus()
        await _settle(pilot)
        assert "d Disable all" in footer_line(app) and "x Toggle row" not in footer_line(app)
        app.screen.query_one("#incident-table").focus()
        await _settle(pilot)
        assert "a Ack" in footer_line(app)


async def test_keys_that_do_not_fit_are_left_out_whole_and_the_palette_stays():
    """At 80 columns the kill-switch panel's keys overflow: the line ends with whole keys, then the palette's."""
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await advance(app, pilot, 3)
        app.screen.query_one("#switch-table").focus()
        await _settle(pilot)
        line = footer_line(app)
        assert line.startswith("? Keys x Toggle row")  # narrow: compact, `? Keys` first
        keys, palette = line.rsplit("▏", 1)
        assert palette.strip() == "^p palette"
        shown = keys.split("  ")[0]  # what is drawn before the padding
        descriptions = ["Keys", "Toggle row", "Kill pipeline", "Re-enable pipeline", "Stop all", "Quit", "Undo"]
        drawn = [d for d in descriptions if f" {d}" in f" {shown}"]
        assert drawn == descriptions[:len(drawn)] and len(drawn) < len(descriptions)  # a prefix, some left out
        assert shown.endswith(drawn[-1])  # nothing of the next key: no stray letter before the palette


async def test_a_click_on_a_key_presses_it():
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 3)
        line = footer_line(app)
        await pilot.click(KeysFooter, offset=(line.index("? Keys") + 2, 0))
        await _settle(pilot)
        assert "Keys" in screen_text(app) and app.screen.__class__.__name__ != "Dashboard"  # the key list opened
