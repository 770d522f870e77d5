"""Benchmark: the longest event-loop stall while 100,000 series are ingested, swept and ruled; prints JSON, asserts.

A watchdog task sleeps 10 ms over and over and records how late it wakes: that lateness is the
longest stretch the loop could not run anything else (a keypress, a repaint). The work is a
console's tick, as the engine runs it: one scrape (observation) per service added to the store,
then the 50 rules of bench/aggregator.py. The store holds an hour (plus the 5 min lookback) of
history, so each minute of data time arms a sweep that really trims. The reference ("before"), in
the same run on the same store, is the engine as it was: the one-shot sweep (`sweep_batch`
unbounded), no yield between scrapes or rules. Then "after": the incremental sweep, a yield after
each scrape and each rule (Engine.tick and its prewarm). The bench fails (exit 1) when "after"
stalls the loop for more than --limit-ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_rules import START, fleet, rules  # noqa: E402
from console.metrics.store import SeriesStore  # noqa: E402
from console.promql import TickMemo, evaluate  # noqa: E402

PER_SERVICE = 400


class Watchdog:
    """Lateness of a 10 ms timer, sampled for as long as it runs; and the garbage collector's pauses."""

    def __init__(self, period: float = 0.010) -> None:
        self.period, self.late, self.cpu, self.gc_pauses = period, [], [], []
        self._gc_started = 0.0

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append((info["generation"], time.perf_counter() - self._gc_started))

    async def run(self) -> None:
        gc.callbacks.append(self._gc)
        try:
            while True:
                t0, c0 = time.perf_counter(), time.thread_time()
                await asyncio.sleep(self.period)
                self.late.append(time.perf_counter() - t0 - self.period)
                self.cpu.append(time.thread_time() - c0)
        finally:
            gc.callbacks.remove(self._gc)

    def report(self) -> dict:
        late = sorted(self.late)
        # The loop thread's own CPU while the timer was late: a stall with little of it is the machine
        # not running this process (other load), not the loop being held by our work.
        busy = max(min(lt, c) for lt, c in zip(self.late, self.cpu))
        return {"wakeups": len(late), "max_stall_ms": round(late[-1] * 1000, 1),
                "max_stall_own_cpu_ms": round(busy * 1000, 1),
                "p99_stall_ms": round(late[int(len(late) * 0.99)] * 1000, 1),
                "median_stall_ms": round(statistics.median(late) * 1000, 2),
                "longest_gc_pause_ms": round(max((d for _, d in self.gc_pauses), default=0.0) * 1000, 1),
                "full_collections": sum(1 for g, _ in self.gc_pauses if g == 2)}


def prefill(store: SeriesStore, series: list, span: int, step: int) -> list[float]:
    rng = random.Random(1)
    values = [0.0] * len(series)
    for t in range(0, span, step):
        batch = []
        for i, (labels, kind, level) in enumerate(series):
            values[i] = values[i] + level * rng.random() * step if kind != "gauge" else level * (0.5 + rng.random())
            batch.append((labels, START + t, values[i]))
        store.add_many(batch)
    return values


async def ticks(store: SeriesStore, series: list, values: list[float], t_from: float, n: int, step: int,
                exprs: list[str], before: bool) -> dict:
    """n ticks of the engine's work; returns the watchdog's figures and how long the ticks took.

    before: as the engine was (every scrape ingested, then every rule evaluated, without a yield);
    else as it is now (a yield after each scrape; rules computed one by one into the tick's memo
    with a yield in between, then the synchronous pass that reads them from the memo).
    """
    dog = Watchdog()
    task = asyncio.create_task(dog.run())
    await asyncio.sleep(0.05)
    rng = random.Random(2)
    took = []
    for k in range(n):
        t0 = time.perf_counter()
        ts = t_from + k * step
        for lo in range(0, len(series), PER_SERVICE):  # one observation per service
            batch = []
            for i in range(lo, lo + PER_SERVICE):
                labels, kind, level = series[i]
                values[i] = values[i] + level * rng.random() * step if kind != "gauge" else level
                batch.append((labels, ts, values[i]))
            store.add_many(batch)
            if not before:
                await asyncio.sleep(0)
        memo = TickMemo()
        if not before:
            for e in exprs:
                evaluate(e, store, ts, memo=memo)
                await asyncio.sleep(0)
        for e in exprs:
            evaluate(e, store, ts, memo=memo)
        took.append(time.perf_counter() - t0)
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    task.cancel()
    return {**dog.report(), "ticks": n, "data_seconds": n * step,  # a sweep is armed every 60 s of data
            "tick_work_s_median": round(statistics.median(took), 3)}


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=250, help=f"{PER_SERVICE} series each (250: 100,000)")
    ap.add_argument("--prefill-step", type=int, default=60, help="seconds between prefilled samples")
    ap.add_argument("--step", type=int, default=15, help="seconds of data time per tick (a scrape interval)")
    ap.add_argument("--ticks", type=int, default=10)
    ap.add_argument("--limit-ms", type=float, default=50.0)
    args = ap.parse_args()

    series = fleet(args.services)
    store = SeriesStore(retention=3600)
    span = 3600 + 300 + 600  # ten minutes past retention + lookback: every sweep has samples to trim
    values = prefill(store, series, span, args.prefill_step)
    exprs = rules()
    at = START + span
    for e in exprs:  # parse and resolve once, as the engine does on its first tick
        evaluate(e, store, at)
    store.sweep_batch = 10**9
    one_shot = await ticks(store, series, values, at, args.ticks, args.step, exprs, before=True)
    del store.sweep_batch  # back to the class default
    incremental = await ticks(store, series, values, at + args.ticks * args.step, args.ticks, args.step, exprs,
                              before=False)
    ok = incremental["max_stall_ms"] <= args.limit_ms
    print(json.dumps({"series": len(store), "samples_retained": store.sample_count(),
                      "sweep_batch": SeriesStore.sweep_batch, "limit_ms": args.limit_ms,
                      "before": one_shot, "after": incremental, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
