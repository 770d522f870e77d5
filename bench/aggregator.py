"""Benchmark: ingest 2,000 series at 1 s for an hour, then evaluate 50 realistic rules, and a
subquery rule set over the 2,000 series tick after tick; prints JSON."""

from __future__ import annotations

import gc
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.metrics.store import SeriesStore  # noqa: E402
from console.promql import evaluate  # noqa: E402

START = 1_790_000_000.0
SECONDS = 3600
SERVICES = ["checkout", "payments", "search", "ledger", "gateway"]
INSTANCES = [f"10.0.0.{i}:9100" for i in range(8)]
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]


def fleet() -> list[tuple[dict[str, str], str, float]]:
    """2,000 series as (labels, kind, typical per-second increase or level)."""
    rng = random.Random(42)
    out = []
    for svc in SERVICES:
        for inst in INSTANCES:
            base = {"service": svc, "instance": inst}
            for code in ("200", "404", "500", "503"):
                for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                    out.append(({"__name__": "http_requests_total", **base, "code": code,
                                 "method": method}, "counter", rng.uniform(0.1, 50)))
            for i, le in enumerate(BUCKETS):  # cumulative: share of observations <= le
                out.append(({"__name__": "http_request_duration_seconds_bucket", **base, "le": le},
                             "bucket", min(1.0, (i + 1) / (len(BUCKETS) - 2))))
            cpu = {"__name__": "process_cpu_seconds_total", **base}
            out.append((cpu, "counter", rng.uniform(0.1, 1)))
            out.append(({"__name__": "process_resident_memory_bytes", **base}, "gauge", 2e8))
            for q in range(16):
                out.append(({"__name__": "queue_depth", **base, "queue": f"q{q}"}, "gauge", 50.0))
    assert len(out) == 2000, len(out)
    return out


def ingest(store: SeriesStore, series: list) -> tuple[int, float]:
    """Feed one sample per series per second; returns (samples, seconds spent inside the store)."""
    rng = random.Random(1)
    values = [0.0] * len(series)
    spent, total = 0.0, 0
    for step in range(SECONDS):
        ts = START + step
        batch = []
        observed = {}  # per (service, instance): this second's observations, split over buckets
        for i, (labels, kind, level) in enumerate(series):
            if kind == "bucket":
                key = (labels["service"], labels["instance"])
                if key not in observed:
                    observed[key] = 40 * rng.random()
                values[i] += observed[key] * level
            elif kind == "counter":
                values[i] += level * rng.random()
            else:
                values[i] = level * (0.5 + rng.random())
            batch.append((labels, ts, values[i]))
        t0 = time.perf_counter()
        total += store.add_many(batch)
        spent += time.perf_counter() - t0
    return total, spent


def rules() -> list[str]:
    """Ten alert/recording-style rules per service: rates, ratios, quantiles, gauges, joins."""
    out = []
    for svc in SERVICES:
        sel = f'service="{svc}"'
        req, err = f"http_requests_total{{{sel}}}", f'http_requests_total{{{sel},code=~"5.."}}'
        lat = f"http_request_duration_seconds_bucket{{{sel}}}"
        out += [
            f"sum by (code) (rate({req}[5m]))",
            f"sum(rate({err}[5m])) / sum(rate({req}[5m])) > 0.05",
            f"sum(increase({err}[1h])) / sum(increase({req}[1h])) > 0.01",
            f"histogram_quantile(0.99, sum by (le) (rate({lat}[5m]))) > 0.5",
            f"histogram_quantile(0.5, sum by (le, instance) (rate({lat}[1h])))",
            f"rate(process_cpu_seconds_total{{{sel}}}[5m]) > 0.8",
            f"avg_over_time(queue_depth{{{sel}}}[5m]) > 60",
            f"max by (queue) (queue_depth{{{sel}}}) > 70",
            f"process_resident_memory_bytes{{{sel}}} / on(instance) group_left "
            f"sum by (instance) (queue_depth{{{sel}}}) > 1e5",
            f"sum by (method) (rate({req}[1h])) < 1",
        ]
    assert len(out) == 50
    return out


SUBQUERY_RULES = [
    'max_over_time(rate({__name__=~"http_requests_total|process_cpu_seconds_total|queue_depth'
    '|http_request_duration_seconds_bucket"}[5m])[1h:1m])',
]
# The reference in the same run: the inner expression alone, once (what one step costs).
SUBQUERY_INNER = ('rate({__name__=~"http_requests_total|process_cpu_seconds_total|queue_depth'
                  '|http_request_duration_seconds_bucket"}[5m])')


def subquery_ticks(store: SeriesStore, series: list, at: float, ticks: int) -> dict:
    """A rule with a 1 h subquery over every series, evaluated at one-second ticks while samples
    keep arriving: the first tick computes all 60 steps, the next ones only the steps still open."""
    values = {tuple(sorted(labels.items())): v for labels, v in evaluate(SUBQUERY_INNER, store, at)}
    t0 = time.perf_counter()
    n = sum(len(evaluate(e, store, at)) for e in SUBQUERY_RULES)
    first = time.perf_counter() - t0
    per_tick = []
    rng = random.Random(3)
    last = {tuple(sorted(l.items())): 0.0 for l, _, _ in series}
    for k in range(1, ticks + 1):
        ts = at + k
        batch = []
        for labels, kind, level in series:
            key = tuple(sorted(labels.items()))
            last[key] = last[key] + level * rng.random() if kind != "gauge" else level
            batch.append((labels, ts, last[key] + 1e9))  # above every earlier value: no reset
        store.add_many(batch)
        t0 = time.perf_counter()
        for e in SUBQUERY_RULES:
            evaluate(e, store, ts)
        per_tick.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    evaluate(SUBQUERY_INNER, store, at + ticks)
    inner = time.perf_counter() - t0
    per_tick.sort()
    return {
        "subquery_series": len(values), "subquery_results": n,
        "subquery_first_tick_s": round(first, 3),
        "subquery_tick_median_s": round(per_tick[len(per_tick) // 2], 4),
        "subquery_tick_max_s": round(per_tick[-1], 4),
        "subquery_inner_once_s": round(inner, 4),
    }


def store_bytes(store: SeriesStore) -> int:
    total = 0
    for labels, s in store.series():
        total += sys.getsizeof(s) + sys.getsizeof(labels)
        total += sum(sys.getsizeof(a) for a in (s.ts, s.vals, s.nans, s.resets))
    return total


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    series = fleet()
    store = SeriesStore(retention=3600)
    gc.collect()
    rss0 = rss_bytes()
    samples, spent = ingest(store, series)
    gc.collect()
    rss1 = rss_bytes()
    retained = store.sample_count()
    exprs = rules()
    at = START + SECONDS - 1
    for e in exprs:  # parse once, as the rule engine does at config load
        evaluate(e, store, at)
    runs = []
    for _ in range(int(os.environ.get("BENCH_REPEAT", "7"))):  # the median: the box is shared
        t0 = time.perf_counter()
        results = sum(len(evaluate(e, store, at)) for e in exprs)
        runs.append(time.perf_counter() - t0)
    eval_s = sorted(runs)[len(runs) // 2]
    ticks = int(os.environ.get("BENCH_TICKS", "120"))
    sub = subquery_ticks(store, series, at, ticks=ticks) if ticks else {}
    print(json.dumps({
        "series": len(store),
        "samples_ingested": samples,
        "samples_retained": retained,
        "ingest_samples_per_s": round(samples / spent),
        "rules": len(exprs),
        "rules_eval_s": round(eval_s, 3),  # median of BENCH_REPEAT evaluations of all 50
        "rule_results": results,
        "store_bytes_per_sample": round(store_bytes(store) / retained, 2),
        "rss_delta_bytes_per_sample": round((rss1 - rss0) / retained, 2),
        **sub,
    }))


if __name__ == "__main__":
    main()
