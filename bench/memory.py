"""Peak RSS of the console with its 1 h windows full: the demo's dashboard, fast-forwarded on a virtual clock.

The whole TUI (Textual app, headless, 120x40) over the demo session with its recorder on, as `opsconsole demo`
runs, ticked once a virtual second for --minutes (65: the 1 h windows full, then some); prints one JSON
object: peak RSS (VmHWM), RSS every 15 virtual minutes, the samples and series the store retains, and with
--trace the top allocation sites still held at the end (tracemalloc; slower, and its own memory inflates RSS).

usage: python bench/memory.py [--minutes 65] [--scenario normal] [--trace]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

START = 1_795_000_000.0  # a fixed instant, as the tests use (tests/conftest.py)


def status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def mib(n: int) -> float:
    return round(n / 2**20, 1)


async def run(minutes: float, scenario: str, trace: bool) -> dict:
    from console.clock import VirtualClock
    from console.session import Session
    from screens.app import OpsApp

    if trace:
        import tracemalloc

        tracemalloc.start(1)  # one frame: eight made a 10 min run take most of an hour
    app = OpsApp(Session(clock=VirtualClock(START), scenario=scenario, seed=1, record="auto"), autorun=False)
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
               "httpx_loaded": "httpx" in sys.modules}  # loaded on the first HTTP action or silence only
        if trace:
            snap = tracemalloc.take_snapshot()
            out["top_allocations"] = [{"where": str(s.traceback[0]), "mib": mib(s.size), "blocks": s.count}
                                      for s in snap.statistics("filename")[:15]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=65)
    ap.add_argument("--scenario", default="normal")
    ap.add_argument("--trace", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as data:
        os.environ["OPSCONSOLE_DATA_DIR"] = data  # the recording goes to a scratch dir
        os.environ.pop("SSH_CONNECTION", None)
        print(json.dumps(asyncio.run(run(a.minutes, a.scenario, a.trace)), indent=1))


if __name__ == "__main__":
    main()
