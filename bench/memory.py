"""Peak RSS of the console with its 1 h windows full: the demo's dashboard, fast-forwarded on a virtual clock.

The whole TUI (Textual app, headless, 120x40) over the demo session with its recorder on, as `opsconsole demo`
runs, ticked once a virtual second for --minutes (80: the 1 h windows, with their 5 min of lookback, are at
their largest from minute 66 and trimmed once a minute since); prints one JSON object: peak RSS (VmHWM), RSS
every 15 virtual minutes, the samples and series the store retains, and with --trace the top allocation sites
still held at the end (tracemalloc; slower, and its own memory inflates RSS).
With --sim-process the simulator runs in a child process as under `opsconsole demo` (its clock follows this one
through shared memory): RSS is then the console's alone, and the child's is printed beside it.

With --pty SECONDS it runs the real `opsconsole demo` on a pseudo-terminal (120x40) for that long instead and
prints, for the console and for each child it started (the demo's simulator runs in one), peak RSS (VmHWM), RSS
and PSS at the end (PSS shares the pages a forked child still has in common with the console between them: the
process tree's PSS sum is what the tree costs the machine).

usage: python bench/memory.py [--minutes 80] [--scenario normal] [--trace] [--sim-process] [--no-record]
       python bench/memory.py --pty 25
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

START = 1_795_000_000.0  # a fixed instant, as the tests use (tests/conftest.py)


def status(field: str, pid: str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def mib(n: int) -> float:
    return round(n / 2**20, 1)


class SharedTime:
    """The virtual time, read by the simulator's child process from memory shared with this one."""

    def __init__(self) -> None:
        import mmap

        self.mem = mmap.mmap(-1, 8)  # anonymous and shared: the forked child sees every write

    def now(self) -> float:
        return struct.unpack_from("d", self.mem)[0]

    def set(self, t: float) -> None:
        struct.pack_into("d", self.mem, 0, t)


def clocks(sim_process: bool):
    """The console's virtual clock, and the simulator's child process following it (None: in-process)."""
    from console.clock import VirtualClock

    if not sim_process:
        return VirtualClock(START), None
    from console.sim_process import SimProcess

    shared = SharedTime()
    shared.set(START)

    class Published(VirtualClock):
        def set(self, t: float) -> None:
            shared.set(t)  # before the console's sleepers wake: its polls ask the fleet at the new time
            super().set(t)

    return Published(START), SimProcess(scenario=SCENARIO, seed=1, clock=shared)


SCENARIO = "normal"


async def run(minutes: float, scenario: str, trace: bool, clock, sim, record: bool = True) -> dict:
    from console.session import Session
    from screens.app import OpsApp

    if trace:
        import tracemalloc

        tracemalloc.start(1)  # one frame: eight made a 10 min run take most of an hour
    app = OpsApp(Session(clock=clock, scenario=scenario, seed=1, record="auto" if record else None, demo=sim),
                 autorun=False)
    timeline = []
    t0 = time.monotonic()
    async with app.run_test(size=(120, 40)) as pilot:
        while app.session.engine is None:
            await pilot.pause()
        engine = app.session.engine
        clock = engine.clock
        ticks = int(minutes * 60)
        for i in range(1, ticks + 1):
            clock.advance(1.0)
            await engine.tick()
            if i % 5 == 0:
                await pilot.pause()  # the dashboard draws what the engine published, as it would live
            if i % 900 == 0:
                timeline.append({"virtual_min": i // 60, "rss_mib": mib(status("VmRSS")),
                                 "samples": engine.store.sample_count()})
        await pilot.pause()
        out = {"scenario": scenario, "virtual_minutes": minutes, "ticks": ticks,
               "wall_s": round(time.monotonic() - t0, 1), "peak_rss_mib": mib(status("VmHWM")),
               "rss_mib": mib(status("VmRSS")), "samples": engine.store.sample_count(),
               "series": len(list(engine.store.series())), "timeline": timeline,
               "httpx_loaded": "httpx" in sys.modules,  # loaded on the first HTTP action or silence only
               "simulator": "in this process" if sim is None else "child process", "recorder": record}
        out["pss_mib"] = mib(pss(os.getpid()))
        if sim is not None:  # the process tree: RSS counts the pages both still share twice, PSS once
            child = {"peak_rss_mib": mib(status("VmHWM", str(sim.pid))), "rss_mib": mib(status("VmRSS", str(sim.pid))),
                     "pss_mib": mib(pss(sim.pid))}
            out["simulator_child"] = child
            out["tree"] = {"peak_rss_mib": round(out["peak_rss_mib"] + child["peak_rss_mib"], 1),
                           "pss_mib": round(out["pss_mib"] + child["pss_mib"], 1)}
        if trace:
            snap = tracemalloc.take_snapshot()
            out["top_allocations"] = [{"where": str(s.traceback[0]), "mib": mib(s.size), "blocks": s.count}
                                      for s in snap.statistics("filename")[:15]]
    return out


def pss(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    raise KeyError("Pss")


def real_demo(seconds: float, scenario: str) -> dict:
    """`opsconsole demo` on a pty for `seconds`: memory of the console and of its children, read before it quits."""
    import select
    import signal

    from on_a_pty import spawn

    env = {k: v for k, v in os.environ.items() if k not in ("SSH_CONNECTION", "SSH_TTY", "PYTHONDONTWRITEBYTECODE")}
    env.update(TERM="xterm-256color")
    cmd = [str(Path(sys.executable).parent / "opsconsole"), "demo", "--scenario", scenario]
    pid, master = spawn(cmd, env, cols=120, rows=40)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:  # keep the pty drained, as a terminal would
        if select.select([master], [], [], 0.2)[0]:
            try:
                os.read(master, 65536)
            except OSError:
                break
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        kids = [int(k) for k in f.read().split()]
    procs = {"console": pid, **{f"child_{i}": k for i, k in enumerate(kids)}}
    out = {name: {"peak_rss_mib": mib(status("VmHWM", str(p))), "rss_mib": mib(status("VmRSS", str(p))),
                  "pss_mib": mib(pss(p))} for name, p in procs.items()}
    out["tree"] = {k: round(sum(v[k] for v in out.values()), 1) for k in ("peak_rss_mib", "rss_mib", "pss_mib")}
    os.write(master, b"q")
    deadline = time.monotonic() + 5
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)  # our own child's process group
            os.waitpid(pid, 0)
            break
        if select.select([master], [], [], 0.05)[0]:
            try:
                os.read(master, 65536)
            except OSError:
                pass
    os.close(master)
    return {"scenario": scenario, "seconds": seconds, "size": "120x40", **out}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pty", type=float, metavar="SECONDS", help="the real demo on a pty this long, instead")
    ap.add_argument("--minutes", type=float, default=80)
    ap.add_argument("--scenario", default="normal")
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--no-record", action="store_true", help="the recorder off (what it costs, by difference)")
    ap.add_argument("--sim-process", action="store_true",
                    help="the simulator in a child process, as `opsconsole demo` runs it (its clock follows ours)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as data:
        os.environ["OPSCONSOLE_DATA_DIR"] = data  # the recording goes to a scratch dir
        os.environ.pop("SSH_CONNECTION", None)
        if a.pty:
            print(json.dumps(real_demo(a.pty, a.scenario), indent=1))
            return
        global SCENARIO
        SCENARIO = a.scenario
        clock, sim = clocks(a.sim_process)  # forked before this process imports the console, as `opsconsole demo`
        print(json.dumps(asyncio.run(run(a.minutes, a.scenario, a.trace, clock, sim, not a.no_record)), indent=1))


if __name__ == "__main__":
    main()
