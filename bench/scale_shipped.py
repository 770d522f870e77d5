"""Benchmark: the shipped rules and panels (Engine.evaluate) over 100,000 series, postings vs the old scan; JSON.

The console watches the five demo services. Their real series come from polling the embedded
simulator for a minute (over loopback HTTP, virtual clock); the store is then padded to 100,000
series with copies of those series under other `job` labels (the exporters a console shares a
metric namespace with) and an hour of history at --step seconds. Timed: one `Engine.evaluate`
(every shipped rule, every panel figure, incidents) at the newest instant, with the postings and
the tick memo, against the same evaluation selecting by a scan (the reference, same run, same store).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from polling import scan_select  # noqa: E402
from console.clock import VirtualClock  # noqa: E402
from console.demo import Demo  # noqa: E402
from console.engine import Engine  # noqa: E402
from console.metrics.store import SeriesStore  # noqa: E402

START = 1_795_000_000.0
_LATER = itertools.count(1)  # seconds after the evaluated instant, one per evaluation


async def watched() -> tuple[Engine, Demo, list[tuple[dict, float]]]:
    """An engine that polled the simulator for a minute; its series and their latest values."""
    clock = VirtualClock(START)
    demo = Demo(clock)
    cfg = await demo.start(tick=1.0)
    engine = Engine(cfg, clock, scenario="normal", persist_incidents=False)
    await engine.start()
    for _ in range(60):
        clock.advance(1.0)
        await engine.tick()
    latest = []
    for labels, s in engine.store.series():
        if s.vals and s.vals[-1] == s.vals[-1]:  # skip staleness markers
            latest.append((dict(labels), s.vals[-1]))
    return engine, demo, latest


def pad(store: SeriesStore, latest: list, target: int, t_end: float, step: int) -> dict:
    """Copies of the watched series under other jobs, an hour of history each, up to `target` series."""
    per_copy = len(latest)
    copies = max(0, (target - len(store)) // per_copy)
    batch_series = []
    for c in range(copies):
        for labels, v in latest:
            batch_series.append(({**labels, "job": f"{labels.get('job', 'x')}-copy-{c}"}, v))
    for t in range(int(t_end - 3600), int(t_end) + 1, step):
        frac = (t - (t_end - 3600)) / 3600
        store.add_many((labels, float(t), v * (0.5 + frac / 2)) for labels, v in batch_series)
    return batch_series[-1][0]


def timed(engine: Engine, at: float, n: int, touch: dict) -> tuple[list[float], list]:
    """n evaluations at `at`; before each, one sample after `at` (invisible to it) makes the store's
    version move, as a tick's scrapes do, so the tick memo starts afresh every time."""
    took, rules = [], None
    for _ in range(n):
        assert engine.store.add(touch, at + next(_LATER), 1.0)
        t0 = time.perf_counter()
        state = engine.evaluate(at)
        took.append(time.perf_counter() - t0)
        rules = sorted((r.key, r.state, r.value) for r in state.rules)
    return took, rules


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--step", type=int, default=15)
    ap.add_argument("--ticks", type=int, default=5)
    args = ap.parse_args()
    engine, demo, latest = await watched()
    try:
        watched_series = len(engine.store)
        at = engine.clock.now()
        touch = pad(engine.store, latest, args.series, at - 1, args.step)
        exprs = len(engine.rules)
        engine.evaluate(at)  # parse, resolve, fill the selection cache
        real = SeriesStore.select
        SeriesStore.select = scan_select
        try:
            scan, scan_rules = timed(engine, at, 2, touch)
        finally:
            SeriesStore.select = real
        engine.evaluate(at)
        post, post_rules = timed(engine, at, args.ticks, touch)
        assert post_rules == scan_rules, "the postings evaluated differently from the scan"
        print(json.dumps({
            "series": len(engine.store), "watched_services": len(engine.cfg.services),
            "watched_series": watched_series, "rules": exprs,
            "scan_evaluate_s": round(statistics.median(scan), 4),
            "postings_evaluate_s_median": round(statistics.median(post), 4),
            "postings_evaluate_s_max": round(max(post), 4),
            "speedup": round(statistics.median(scan) / statistics.median(post), 1),
        }))
    finally:
        await engine.stop()
        await demo.stop()


if __name__ == "__main__":
    asyncio.run(main())
