"""Shared fixtures: the simulated fleet on loopback with a virtual clock, and an engine watching it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from console.clock import VirtualClock
from console.demo import Demo
from console.engine import Engine
from console.mitigations.executor import Executor

START = 1_795_000_000.0  # 2026-11-18T11:06:40Z: fixed, so runs are reproducible


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


def executor_for(engine: Engine, actions: dict, audit=None) -> Executor:
    """An executor wired to an engine as a session wires it: the engine's clock, hub, state, records, queries."""
    return Executor(actions, cfg=engine.cfg, clock=engine.clock, hub=engine.hub, state=lambda: engine.state,
                    records=engine.actions, query=engine.query, expedite=engine.expedite, audit=audit)


async def start_watch(scenario: str = "normal", *, tick: float = 5.0, metrics_interval: float = 5.0,
                      seed: int = 1, start: float = START, **top) -> Fleetwatch:
    clock = VirtualClock(start)
    demo = Demo(clock, scenario=scenario, seed=seed)
    cfg = await demo.start(tick=tick, **top)
    services = [s.model_copy(update={"metrics_interval": metrics_interval}) for s in cfg.services]
    cfg = cfg.model_copy(update={"services": services})
    # persisted like a console on real services (the demo itself keeps its incidents in memory)
    engine = Engine(cfg, clock, scenario=scenario, persist_incidents=True)
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


# --- moto's SSM server (real AWS wire protocol on loopback) for the ssm kill-switch provider ------

MOTO = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")


@pytest.fixture(scope="module")
def moto_url():
    """moto's real SSM server on a loopback port, for the tests of one module."""
    if MOTO is None:
        if os.environ.get("CI") == "true":
            pytest.fail("moto_server is required under CI=true (pip install 'moto[ssm]' flask flask-cors)")
        pytest.skip("moto_server is not installed")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    ready = threading.Event()

    def drain():  # werkzeug announces "Running on" once it listens; keep reading so its log never blocks
        for line in proc.stderr:
            if "Running on" in line:
                ready.set()
        ready.set()  # the process ended: stop waiting

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not ready.wait(timeout=30) or proc.poll() is not None:
            pytest.fail(f"moto_server did not start on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Dummy AWS credentials for boto3 against moto (tests/test_ssm.py, the ssm provider of the actions)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # Never read the developer's own AWS files or ask an instance metadata service.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def advance_app(app, pilot, seconds: float, step: float = 1.0) -> None:
    """Run an OpsApp's engine on its virtual clock as the live loop would, then let the UI catch up."""
    clock = app.session.engine.clock
    end = clock.now() + seconds
    while clock.now() < end:
        clock.advance(step)
        await app.session.engine.tick()
    await pilot.pause()


def screen_text(app) -> str:
    """Everything the terminal shows, as plain text (what a user reads)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
