"""Benchmark: what attached viewers cost a collector (`opsconsole serve`): bytes per tick per viewer on the wire
and the collector's CPU per tick, with 0 (the reference, same run), 1, 5 and 20 viewers; prints JSON.

The collector (engine, simulator, HTTP server) runs in this process on a virtual clock, ticked as fast as the
viewers keep up; the viewers run in one other process (real HTTP on loopback), so their decoding is not counted.
Also the time from a command in one viewer to its effect in another's state (median, p95).
Usage: python bench/remote_viewers.py [--ticks 120] [--warmup 60] [--viewers 1,5,20] [--scenarios normal,debt-surge]
       [--rounds 40]
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

START = 1_795_000_000.3038151  # fractional, as a wall clock's timestamps are (their digits are sent)
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
                "quiet_tick_wire_bytes": quiet_tick_bytes(served.collector.doc, served.collector.seq),
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


def quiet_tick_bytes(doc: dict, seq: int) -> int:
    """What a tick in which nothing but the clock moved costs a viewer on the wire: its diff frame through the
    per-viewer gzip stream the server keeps (primed with the full state, as a stream is), flushed per event."""
    import zlib

    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    z.compress(f"data: {codec.dumps({'t': 'full', 'seq': seq, 'doc': doc})}\n\n".encode())
    z.flush(zlib.Z_SYNC_FLUSH)
    patch = codec.diff(doc, {**doc, "ts": doc["ts"] + 1.0})
    line = codec.dumps({"t": "diff", "seq": seq + 1, "patch": patch})
    return len(z.compress(f"data: {line}\n\n".encode()) + z.flush(zlib.Z_SYNC_FLUSH))


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


async def latency(rounds: int) -> dict:
    """From a command sent by viewer A to its effect in viewer B's state (ack / unack an incident), over loopback."""
    import statistics

    from console.remote.client import RemoteSession

    session = Session(clock=VirtualClock(START), scenario="normal", seed=1)
    served = Served(session, Tokens(None), "127.0.0.1", 0)
    await served.start()
    clock, engine = session.engine.clock, session.engine
    a = b = None
    try:
        for seconds, scenario in ((60, None), (330, "conversion-stall")):
            if scenario:
                session.demo.fleet.set_scenario(scenario)
            for _ in range(int(seconds / 5)):
                clock.advance(5.0)
                await engine.tick()
        inc = next(i.id for i in session.state.incidents if i.rule == "ConversionPipelineStall")
        url = f"http://127.0.0.1:{served.port}/"
        a, b = RemoteSession(url, user="a@bench"), RemoteSession(url, user="b@bench")
        for v in (a, b):
            await v.start()
        tasks = [asyncio.create_task(v.run()) for v in (a, b)]
        seen: dict[str, asyncio.Event] = {}
        b.subscribe(lambda st: [e.set() for s, e in seen.items()
                                if any(i.id == inc and i.state == s for i in st.incidents)])
        times = []
        for n in range(rounds):
            verb, want = ("acknowledge", "acknowledged") if n % 2 == 0 else ("unacknowledge", "triggered")
            seen.clear()
            seen[want] = asyncio.Event()
            t0 = time.perf_counter()
            await a.request({"cmd": "incident.verb", "id": inc, "verb": verb})
            await asyncio.wait_for(seen[want].wait(), 10)
            times.append((time.perf_counter() - t0) * 1000)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        times.sort()
        return {"command_to_other_viewer_ms": {"rounds": rounds, "median": round(statistics.median(times), 2),
                                               "p95": round(times[int(len(times) * 0.95) - 1], 2)},
                "note": "A and B in this process, the collector too; B's state, not its screen repaint"}
    finally:
        for v in (a, b):
            if v is not None:
                await v.stop()
        await served.stop()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=120)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--viewers", default="1,5,20")
    ap.add_argument("--scenarios", default="normal,debt-surge")
    ap.add_argument("--rounds", type=int, default=40, help="ack / unack round trips for the latency")
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
    lat = await latency(args.rounds)
    json.dump({"bench": "remote_viewers", "results": out, **lat}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
