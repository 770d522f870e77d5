"""Snapshot tests of the dashboard at 120x40 and 80x24 on a fixed scenario and a fixed virtual clock.

Regenerate after an intended UI change with `make test ARGS="tests/test_snapshots.py --snapshot-update"`,
then look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest

from console.clock import VirtualClock
from console.session import Session
from screens.app import OpsApp
from tests.conftest import START


def _app(scenario: str) -> OpsApp:
    return OpsApp(Session(clock=VirtualClock(START), scenario=scenario, seed=1), autorun=False)


def _run_for(seconds: float):
    async def run_before(pilot) -> None:
        app = pilot.app
        while app.session.engine is None:  # on_mount starts the session
            await pilot.pause()
        clock = app.session.engine.clock
        end = clock.now() + seconds
        while clock.now() < end:
            clock.advance(1.0)
            await app.session.engine.tick()
        await pilot.pause()
    return run_before


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_dashboard_normal(snap_compare, size):
    assert snap_compare(_app("normal"), terminal_size=size, run_before=_run_for(120))


def test_dashboard_debt_surge_firing(snap_compare):
    assert snap_compare(_app("debt-surge"), terminal_size=(120, 40), run_before=_run_for(600))
