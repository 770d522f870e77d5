"""The dashboard's first frame: what start-up leaves out (its first resume does not restyle every node) changes
nothing a user sees."""

from __future__ import annotations

import socket

import pytest

from console.clock import VirtualClock
from console.session import Session
from screens.app import OpsApp
from screens.dashboard import Dashboard
from tests.conftest import START, screen_text
from tests.conftest import advance_app as advance

pytestmark = pytest.mark.asyncio


def _styles(screen) -> dict:
    return {id(node): (type(node).__name__, node.id, node.styles.css) for node in screen.walk_children(with_self=True)}


@pytest.mark.parametrize("size", [(160, 48), (120, 40), (80, 24)])  # wide, the bench's, narrow (-narrow, compact)
async def test_the_first_frame_is_the_one_a_full_restyle_would_give(size):
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=size) as pilot:
        await advance(app, pilot, 5)
        assert isinstance(app.screen, Dashboard)
        styles, frame = _styles(app.screen), app.export_screenshot()
        app.update_styles(app.screen)  # what Textual's first ScreenResume would have done, every node restyled
        app.screen.refresh(layout=True)
        await pilot.pause()
        assert _styles(app.screen) == styles
        assert app.export_screenshot() == frame


async def test_the_dialogs_left_out_of_start_up_open_when_asked():
    # the filter and go-to dialogs are imported when first opened (not before the first frame)
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, pilot, 5)
        for key, dialog, shows in (("slash", "FilterScreen", "Filter incidents"), ("g", "GotoScreen", "-15m from now")):
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ == dialog
            assert shows in screen_text(app)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, Dashboard)


async def test_the_first_layout_is_the_one_a_resize_gives():
    """Textual's redundant relayout after the first one is skipped (screens/dashboard.py): a real resize away and
    back gives the same frame, and a resize still lays the dashboard out for the new width."""
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, pilot, 5)
        first = screen_text(app)
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert len(lines) == 30 and lines[-1].startswith("? Keys ⏎") and lines[-1].rstrip().endswith("^p palette")
        assert lines[-3].startswith("╰") and lines[-3].rstrip().endswith("╯") and len(lines[-3].rstrip()) == 100
        assert app.screen.has_class("-narrow")
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert screen_text(app) == first


async def test_a_service_that_does_not_answer_does_not_hold_the_first_frame(tmp_path, monkeypatch):
    """The dashboard waits for the first figures at most FIRST_STATE_WAIT_S: with a service that accepts and never
    answers, it is on screen before the engine's first state (which waits half a tick for the poll)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    config = tmp_path / "c.toml"
    config.write_text(f'[[services]]\nname="quiet"\nkind="conversion"\nurl="http://127.0.0.1:{silent.getsockname()[1]}"\n'
                      '[services.auth]\ntype="none"\n')
    on_screen_at_first_state = []
    published = OpsApp._published

    def spy(self, first, state):
        if not first.is_set():
            on_screen_at_first_state.append(type(self.screen).__name__)
        published(self, first, state)

    monkeypatch.setattr(OpsApp, "_published", spy)
    app = OpsApp(Session(config_path=str(config)))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            while not on_screen_at_first_state:
                await pilot.pause()
            assert on_screen_at_first_state == ["Dashboard"]
            assert "quiet" in screen_text(app)
    finally:
        silent.close()
