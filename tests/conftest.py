"""Shared fixtures: the simulated fleet on loopback with a virtual clock, and an engine watching it."""

from __future__ import annotations

import os

import pytest

from console.clock import VirtualClock
from console.demo import Demo
from console.engine import Engine

START = 1_795_000_000.0  # 2026-11-18T07:46:40Z: fixed, so runs are reproducible


def require_binary(name: str) -> str:
    """Path of a real external binary; skip locally when missing, fail under CI=true."""
    import shutil

    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required under CI=true (.ci/run installs it)")
        pytest.skip(f"{name} not installed")
    return path


class Fleetwatch:
    """A started simulator, the config pointing at it, and an engine driven tick by tick."""

    def __init__(self, clock: VirtualClock, demo: Demo, engine: Engine) -> None:
        self.clock, self.demo, self.engine = clock, demo, engine

    @property
    def fleet(self):
        return self.demo.fleet

    async def run_for(self, seconds: float, step: float | None = None):
        """Advance virtual time in steps, ticking the engine at each: polls really go over HTTP."""
        step = step or self.engine.cfg.tick
        end = self.clock.now() + seconds
        state = self.engine.state
        while self.clock.now() < end - 1e-9:
            self.clock.advance(step)
            state = await self.engine.tick()
        return state

    def rule(self, name: str):
        return next((r for r in self.engine.state.rules if r.name == name), None)


async def start_watch(scenario: str = "normal", *, tick: float = 5.0, metrics_interval: float = 5.0,
                      seed: int = 1, start: float = START, **top) -> Fleetwatch:
    clock = VirtualClock(start)
    demo = Demo(clock, scenario=scenario, seed=seed)
    cfg = await demo.start(tick=tick, **top)
    services = [s.model_copy(update={"metrics_interval": metrics_interval}) for s in cfg.services]
    cfg = cfg.model_copy(update={"services": services})
    engine = Engine(cfg, clock, scenario=scenario)
    await engine.start()
    await engine.tick()
    return Fleetwatch(clock, demo, engine)


@pytest.fixture
async def watch_factory():
    made: list[Fleetwatch] = []

    async def make(*args, **kw) -> Fleetwatch:
        w = await start_watch(*args, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        await w.engine.stop()
        await w.demo.stop()


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    """Every test writes its audit log, incidents and recordings under its own tmp dir."""
    monkeypatch.setenv("OPSCONSOLE_DATA_DIR", str(tmp_path / "data"))
