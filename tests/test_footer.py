"""The dashboard's footer (widgets/footer.py): the focused panel's keys, rebuilt only when they change."""

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


async def test_the_footer_follows_focus_and_is_not_rebuilt_for_the_same_keys():
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 5)
        assert "a Ack" in footer_line(app) and "x Toggle row" not in footer_line(app)  # incidents focused first
        footer = app.screen.query_one(KeysFooter)
        keys = list(footer.children)
        app.screen.refresh_bindings()  # announced, yet the same keys: the ones on screen stay
        await pilot.pause()
        await pilot.pause()
        assert list(footer.children) == keys
        app.screen.query_one("#switch-table").focus()
        await pilot.pause()
        await pilot.pause()
        assert "x Toggle row" in footer_line(app) and "a Ack" not in footer_line(app)
        app.screen.query_one("#conversion").focus()
        await pilot.pause()
        await pilot.pause()
        assert "d Disable all" in footer_line(app) and "x Toggle row" not in footer_line(app)
        app.screen.query_one("#incident-table").focus()
        await pilot.pause()
        await pilot.pause()
        assert "a Ack" in footer_line(app)
