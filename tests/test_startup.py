"""Start-up: the demo's simulator in a child process, the dashboard drawn before it answers, and nothing left behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from console.session import Session
from console.sim.fleet import SERVICES
from console.sim_process import KINDS, SimProcess
from screens.app import OpsApp
from screens.dashboard import Dashboard
from tests.conftest import screen_text
from tests.pty_terminal import Terminal

FIGURE = re.compile(r"buckets \d+/\d+")  # the conversion panel's polled figure (bench/startup.py looks for it too)


async def until(pilot, condition, timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds (a deadline, not a fixed wait)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


def gone(pid: int, timeout: float = 10.0) -> bool:
    """The process has exited and been reaped (by us or, once orphaned, by init)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return True
        except ChildProcessError:  # not ours (anymore)
            if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)  # polling a condition with a deadline


def test_the_child_serves_the_same_five_services():
    assert KINDS == tuple(SERVICES)


async def test_the_dashboard_is_drawn_before_the_simulator_answers_then_fills(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_DATA_DIR", str(tmp_path))
    sim = SimProcess(scenario="normal", seed=1)
    os.kill(sim.pid, signal.SIGSTOP)  # forked, serving nothing: a simulator still starting on a busy machine
    stopped = True
    app = OpsApp(Session(demo=sim, record=None))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, Dashboard) and "LIVE" in screen_text(app))
            text = screen_text(app)
            assert "Conversion health · pulse" in text and "Data pipeline · datapipe" in text
            assert not FIGURE.search(text)  # nothing answered yet: the panels wait, the frame is there
            os.kill(sim.pid, signal.SIGCONT)
            stopped = False
            await until(pilot, lambda: FIGURE.search(screen_text(app)))
            assert "✖" not in screen_text(app)  # the polls that waited in the backlog were answered, not failed
    finally:
        if stopped and sim.running():
            os.kill(sim.pid, signal.SIGCONT)
    assert gone(sim.pid)  # quitting stopped the child


async def test_the_child_stops_when_the_console_is_gone():
    sim = SimProcess(scenario="normal", seed=1)
    os.close(sim._life)  # what the kernel does to a console that exits or is killed without stopping it
    assert gone(sim.pid)
    sim._life = None


class BrokenClock:
    def now(self) -> float:
        raise RuntimeError("no time today")


async def test_a_fleet_that_cannot_start_says_why_in_the_log(caplog):
    sim = SimProcess(scenario="normal", seed=1, clock=BrokenClock())  # the child's fleet fails as it is built
    cfg = await sim.start()
    assert [s.url for s in cfg.services] == list(sim.urls.values())  # the URLs never waited for the child
    deadline = time.monotonic() + 20
    while sim.failure is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)  # the child's one line arrives on the loop
    assert sim.failure == "RuntimeError: no time today"
    assert "the simulated fleet stopped: RuntimeError: no time today" in caplog.text
    await sim.stop()
    assert gone(sim.pid)


def test_opsconsole_demo_on_a_terminal_shows_figures_and_leaves_no_process(tmp_path):
    term = Terminal(tmp_path)
    try:
        term.until(FIGURE.search, "a polled figure")
        kids = [int(k) for k in Path(f"/proc/{term.pid}/task/{term.pid}/children").read_text().split()]
        assert len(kids) == 1  # the simulator
        term.key(b"q")
        deadline = time.monotonic() + 10
        while term.read(0.05) and time.monotonic() < deadline:  # drained, as a terminal would: it restores the screen
            pass
        assert gone(term.pid)
        assert gone(kids[0])
    finally:
        term.close()


@pytest.mark.parametrize("cmd", ["demo", "run"])
def test_the_parser_and_the_fork_come_before_any_heavy_import(cmd):
    # the simulator is forked once the arguments are parsed: what is imported by then is paid twice
    code = ("import sys\nimport console.cli as c\n"
            f"c.build_parser().parse_args([{cmd!r}])\nimport console.sim_process\n"
            "heavy = ('asyncio', 'pydantic', 'msgspec', 'textual', 'starlette', 'uvicorn', 'aiohttp', 'yaml', 'promql_parser')\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
