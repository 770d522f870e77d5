"""Benchmark: the engine's own CPU per tick on the demo (ingest, evaluation, publishing, recording); JSON.

The demo's fleet runs in this process on a virtual clock (ticked once a virtual second), with the recorder on, as
`opsconsole demo` records. The simulator's and the poll client's share of a tick is left out: each engine step
below is timed with the thread's CPU clock around it (the recorder's writer thread around each batch it encodes
and writes). `--before DIR` runs the same in a checkout of older code (e.g. `git -C /work/main archive a5b1b32 |
tar -x -C DIR`) in a child process, alternating with this one, so both see the same load.

    python bench/engine_tick.py --ticks 300 --warmup 120 --repeat 3 --before /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


_depth = {"main": 0}


def timed(cls, name: str, into: dict, key: str) -> None:
    """Wrap cls.name so the CPU its calls take on the calling thread adds up in into[key] (a call inside another
    timed call is its caller's: a query inside `step` is the step's)."""
    fn = getattr(cls, name)

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        if _depth["main"]:
            return fn(*a, **kw)
        _depth["main"] += 1
        t = time.thread_time()
        try:
            return fn(*a, **kw)
        finally:
            _depth["main"] -= 1
            into[key] = into.get(key, 0.0) + time.thread_time() - t
    setattr(cls, name, wrapper)


def timed_async(cls, name: str, into: dict, key: str) -> None:
    """The same for a coroutine method: only while the coroutine itself runs (not while it awaits others)."""
    fn = getattr(cls, name)

    @types.coroutine
    def drive(coro):
        value, error = None, None
        while True:
            _depth["main"] += 1
            t = time.thread_time()
            try:
                step = coro.throw(error) if error is not None else coro.send(value)
            except StopIteration as stop:
                return stop.value
            finally:
                _depth["main"] -= 1
                into[key] = into.get(key, 0.0) + time.thread_time() - t
            try:
                value, error = (yield step), None
            except BaseException as e:  # noqa: BLE001 - handed to the coroutine, as the loop would
                value, error = None, e

    @functools.wraps(fn)
    async def wrapper(*a, **kw):
        return await drive(fn(*a, **kw))
    setattr(cls, name, wrapper)


def timed_thread(cls, name: str, into: dict, key: str) -> None:
    """The same for a method that runs in a worker thread (never nested in the loop's timed calls)."""
    fn = getattr(cls, name)

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        t = time.thread_time()
        try:
            return fn(*a, **kw)
        finally:
            into[key] = into.get(key, 0.0) + time.thread_time() - t
    setattr(cls, name, wrapper)


async def measure(ticks: int, warmup: int, scenario: str) -> dict:
    from console.clock import VirtualClock
    from console.demo import Demo
    from console.engine import Engine
    from console.recording import writer

    spent: dict[str, float] = {}
    timed(Engine, "_ingest_guarded", spent, "ingest")
    timed_async(Engine, "_prewarm", spent, "prewarm")  # the tick's expressions, evaluated into the memo
    timed(Engine, "step", spent, "step")
    timed(Engine, "publish", spent, "publish (recorder's on-loop share included)")
    timed_thread(writer.ChunkWriter, "encode", spent, "recorder thread: encode")
    clock = VirtualClock(1_790_000_000.0)
    demo = Demo(clock, scenario=scenario, seed=1)
    cfg = await demo.start(tick=1.0)
    engine = Engine(cfg, clock, scenario=scenario)
    with tempfile.TemporaryDirectory() as tmp:
        await engine.start()
        rec = await writer.Recorder(engine, Path(tmp) / "bench.opsrec").start()
        try:
            for i in range(warmup + ticks):
                if i == warmup:
                    spent.clear()
                    t0, p0 = time.thread_time(), time.process_time()
                await engine.tick()
                clock.advance(1.0)
                t = time.thread_time()
                await rec.flush()  # the batch the recorder's task writes once a (wall) second
                spent["recorder flush (on loop)"] = spent.get("recorder flush (on loop)", 0.0) + \
                    time.thread_time() - t
            main_total, process_total = time.thread_time() - t0, time.process_time() - p0
        finally:
            await rec.stop()
            await engine.stop()
            await demo.stop()
    import console

    out = {k: round(v / ticks * 1000, 3) for k, v in sorted(spent.items())}
    out["code"] = str(Path(console.__file__).parent.parent)
    own = sum(spent.values())
    out["engine total ms/tick"] = round(own / ticks * 1000, 3)
    out["main thread incl. simulator ms/tick"] = round(main_total / ticks * 1000, 3)
    out["process incl. simulator and threads ms/tick"] = round(process_total / ticks * 1000, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=120)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scenario", default="normal")
    ap.add_argument("--before", help="a checkout of older code, run alternately in a child process")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(measure(args.ticks, args.warmup, args.scenario))))
        return
    runs: dict[str, list[dict]] = {"after": [], "before": []}
    for _ in range(args.repeat):
        for side, root in (("after", HERE), ("before", args.before)):
            if root is None:
                continue
            env = {**os.environ, "PYTHONPATH": str(root)}
            got = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one", "--ticks", str(args.ticks),
                                  "--warmup", str(args.warmup), "--scenario", args.scenario],
                                 env=env, cwd=root, capture_output=True, text=True, check=True)
            runs[side].append(json.loads(got.stdout.strip().splitlines()[-1]))
    med = {side: {k: (rs[0][k] if k == "code" else round(statistics.median(r[k] for r in rs), 3)) for k in rs[0]}
           for side, rs in runs.items() if rs}
    print(json.dumps({"ticks": args.ticks, "warmup": args.warmup, "repeat": args.repeat, "scenario": args.scenario,
                      "load_average": os.getloadavg(), "median_ms_per_tick": med}, indent=1))


if __name__ == "__main__":
    main()
