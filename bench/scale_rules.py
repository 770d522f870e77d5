"""Benchmark: the 50 rules of bench/aggregator.py over 100,000 series, postings vs the old full scan; prints JSON.

The 100,000 series are 250 services shaped like aggregator.py's five (8 instances x 50 series each);
the rules watch the five named ones, as a console watching a few services among many exporters
does. The reference, in the same run on the same store, is the selection the evaluator did before
the postings: every series of the metric name, each tested against every matcher.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aggregator import BUCKETS, INSTANCES, SERVICES, rss_bytes, rules, store_bytes  # noqa: E402
from console.metrics.store import SeriesStore  # noqa: E402
from console.promql import TickMemo, evaluate  # noqa: E402

START = 1_790_000_000.0


class ScanSelect:
    """The reference: the evaluator's selection before the postings (a scan of the metric name)."""

    def __init__(self, store: SeriesStore) -> None:
        self.store = store

    def series(self, name=None):
        return self.store.series(name)

    def select(self, name, matchers, dot_all=True):
        source = self.store.series(name)
        return [(labels, s) for labels, s in source if all(m.matches(labels, dot_all) for m in matchers)]


def fleet(services: int) -> list[tuple[dict[str, str], str, float]]:
    """400 series per service (aggregator.py's shape); the first five carry its service names."""
    rng = random.Random(42)
    names = SERVICES + [f"svc-{i:03d}" for i in range(len(SERVICES), services)]
    out = []
    for svc in names[:services]:
        for inst in INSTANCES:
            base = {"service": svc, "instance": inst}
            for code in ("200", "404", "500", "503"):
                for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                    out.append(({"__name__": "http_requests_total", **base, "code": code, "method": method},
                                "counter", rng.uniform(0.1, 50)))
            for i, le in enumerate(BUCKETS):
                out.append(({"__name__": "http_request_duration_seconds_bucket", **base, "le": le},
                            "bucket", min(1.0, (i + 1) / (len(BUCKETS) - 2))))
            out.append(({"__name__": "process_cpu_seconds_total", **base}, "counter", rng.uniform(0.1, 1)))
            out.append(({"__name__": "process_resident_memory_bytes", **base}, "gauge", 2e8))
            for q in range(16):
                out.append(({"__name__": "queue_depth", **base, "queue": f"q{q}"}, "gauge", 50.0))
    return out


def ingest(store: SeriesStore, series: list, seconds: int, step: int) -> tuple[int, float, float]:
    """One sample per series per `step` s; (samples, seconds inside the store, longest add_many call)."""
    rng = random.Random(1)
    values = [0.0] * len(series)
    spent, longest, total = 0.0, 0.0, 0
    for t in range(0, seconds, step):
        batch = []
        for i, (labels, kind, level) in enumerate(series):
            if kind == "counter" or kind == "bucket":
                values[i] += level * rng.random() * step
            else:
                values[i] = level * (0.5 + rng.random())
            batch.append((labels, START + t, values[i]))
        t0 = time.perf_counter()
        total += store.add_many(batch)
        took = time.perf_counter() - t0
        spent, longest = spent + took, max(longest, took)
    return total, spent, longest


def tick(store, exprs: list[str], at: float, memo: TickMemo | None = None) -> tuple[float, list]:
    t0 = time.perf_counter()
    results = [evaluate(e, store, at, memo=memo) for e in exprs]
    return time.perf_counter() - t0, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=250, help="400 series each (250: 100,000 series)")
    ap.add_argument("--step", type=int, default=15, help="seconds between samples (an hour is ingested)")
    ap.add_argument("--ticks", type=int, default=5, help="steady-state ticks timed")
    args = ap.parse_args()

    series = fleet(args.services)
    store = SeriesStore(retention=3600)
    gc.collect()
    rss0 = rss_bytes()
    samples, spent, longest_add = ingest(store, series, 3600, args.step)
    gc.collect()
    rss1 = rss_bytes()
    retained = store.sample_count()
    exprs = rules()
    at = START + 3600 - args.step
    for e in exprs:  # parse once, as the rule engine does at config load
        evaluate(e, ScanSelect(store), at)
    scan_s, scan_results = tick(ScanSelect(store), exprs, at)
    first_s, results = tick(store, exprs, at)  # resolves every selector on the postings, fills the cache
    steady = [tick(store, exprs, at)[0] for _ in range(args.ticks)]
    memo_ticks = []
    for _ in range(args.ticks):  # the engine's way: a memo that starts afresh each tick (new samples)
        took, memo_results = tick(store, exprs, at, TickMemo())
        memo_ticks.append(took)
    assert results == scan_results == memo_results, "the postings selected differently from the scan"
    print(json.dumps({
        "series": len(store),
        "rules": len(exprs),
        "rule_results": sum(len(r) for r in results),
        "samples_retained": retained,
        "sample_step_s": args.step,
        "scan_tick_s": round(scan_s, 4),
        "postings_first_tick_s": round(first_s, 4),
        "postings_tick_s_median": round(statistics.median(steady), 4),
        "postings_tick_s_max": round(max(steady), 4),
        "postings_memo_tick_s_median": round(statistics.median(memo_ticks), 4),
        "speedup_vs_scan": round(scan_s / statistics.median(memo_ticks), 1),
        "ingest_samples_per_s": round(samples / spent),
        "longest_add_many_s": round(longest_add, 4),
        "store_bytes_per_sample": round(store_bytes(store) / retained, 2),
        "rss_delta_bytes_per_sample": round((rss1 - rss0) / retained, 2),
    }))


if __name__ == "__main__":
    main()
