"""Benchmark: what attached viewers cost a collector (`opsconsole serve`): bytes per tick per viewer on the wire
and the collector's CPU per tick, with 0 (the reference, same run), 1, 5 and 20 viewers; prints JSON.

The collector (engine, simulator, HTTP server) runs in this process on a virtual clock, ticked as fast as the
viewers keep up; the viewers run in one other process (real HTTP on loopback), so their decoding is not counted.
Usage: python bench/remote_viewers.py [--ticks 120] [--warmup 60] [--viewers 1,5,20] [--scenarios normal,debt-surge]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.clock import VirtualClock  # noqa: E402
from console.remote import codec  # noqa: E402
from console.remote.auth import Tokens  # noqa: E402
from console.remote.server import Served  # noqa: E402
from console.session import Session  # noqa: E402

START = 1_795_000_000.0
VIEWERS = """
import asyncio, sys
from console.remote.client import RemoteSession
async def main(url, n):
    vs = [RemoteSession(url, user=f"bench{i}@viewer") for i in range(n)]
    for v in vs:
        await v.start()
    print("ready", flush=True)
    await asyncio.gather(*(v.run() for v in vs))
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def drained(served: Served) -> None:
    """Every viewer's queue is empty: what was published is on its way (a tick does not outrun the viewers)."""
    while served.collector.backlog():
        await asyncio.sleep(0)


async def measure(scenario: str, viewers: int, warmup: int, ticks: int) -> dict:
    session = Session(clock=VirtualClock(START), scenario=scenario, seed=1)
    served = Served(session, Tokens(None), "127.0.0.1", 0)
    await served.start()
    proc = None
    try:
        clock, engine = session.engine.clock, session.engine
        for _ in range(warmup):
            clock.advance(1.0)
            await engine.tick()
        if viewers:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", VIEWERS, f"http://127.0.0.1:{served.port}/", str(viewers),
                stdout=asyncio.subprocess.PIPE, cwd=str(ROOT))
            assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
        while served.collector.viewers < viewers:
            await asyncio.sleep(0.01)
        sent0, cpu0, wall0 = served.collector.sent_bytes, time.process_time(), time.perf_counter()
        raw = 0
        prev = served.collector.doc
        for _ in range(ticks):
            clock.advance(1.0)
            await engine.tick()
            await drained(served)
            raw += len(codec.dumps({"t": "diff", "patch": codec.diff(prev, served.collector.doc)}))
            prev = served.collector.doc
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        sent = served.collector.sent_bytes - sent0
        return {"scenario": scenario, "viewers": viewers, "ticks": ticks,
                "collector_cpu_ms_per_tick": round(cpu / ticks * 1000, 3),
                "wire_bytes_per_tick_per_viewer": round(sent / ticks / viewers, 1) if viewers else None,
                "json_patch_bytes_per_tick": round(raw / ticks, 1),
                "full_state_bytes": len(codec.dumps(served.collector.doc)),
                "wall_s": round(wall, 2)}
    finally:
        if proc is not None:
            proc.kill()
            await proc.wait()
        await served.stop()


async def unserved(scenario: str, warmup: int, ticks: int) -> dict:
    """The first reference: the same session, not served at all (what `run` costs)."""
    session = Session(clock=VirtualClock(START), scenario=scenario, seed=1)
    await session.start()
    await session.start_mitigations()
    try:
        clock, engine = session.engine.clock, session.engine
        for _ in range(warmup):
            clock.advance(1.0)
            await engine.tick()
        cpu0 = time.process_time()
        for _ in range(ticks):
            clock.advance(1.0)
            await engine.tick()
        cpu = time.process_time() - cpu0
        return {"scenario": scenario, "viewers": "not served", "ticks": ticks,
                "collector_cpu_ms_per_tick": round(cpu / ticks * 1000, 3)}
    finally:
        await session.stop()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=120)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--viewers", default="1,5,20")
    ap.add_argument("--scenarios", default="normal,debt-surge")
    args = ap.parse_args()
    os.environ.setdefault("OPSCONSOLE_DATA_DIR", tempfile.mkdtemp(prefix="bench-remote-"))
    out = []
    for scenario in args.scenarios.split(","):
        plain = await unserved(scenario, args.warmup, args.ticks)
        out.append(plain)
        ref = await measure(scenario, 0, args.warmup, args.ticks)  # the reference: the same collector, nobody attached
        out.append(ref)
        for n in (int(v) for v in args.viewers.split(",")):
            row = await measure(scenario, n, args.warmup, args.ticks)
            extra = row["collector_cpu_ms_per_tick"] - ref["collector_cpu_ms_per_tick"]
            # at the demo's 1 s tick, CPU ms per tick over 1000 ms is the share of one core
            row["added_cpu_percent_of_one_core_at_1s_tick"] = round(extra / 10, 2)
            served = row["collector_cpu_ms_per_tick"] - plain["collector_cpu_ms_per_tick"]
            row["serving_cpu_percent_of_one_core_at_1s_tick"] = round(served / 10, 2)  # vs not served at all
            out.append(row)
    json.dump({"bench": "remote_viewers", "results": out}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
