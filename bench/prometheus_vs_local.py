"""Benchmark: the shipped rules evaluated locally vs by a real Prometheus (HTTP included); prints JSON.

Both read the same data: a real Prometheus scrapes the simulator every second for --seconds, then the
raw samples it stored are pulled (a range-vector instant query) into the local store, and every
shipped rule expression is evaluated at the same instant by both, --repeat times; medians are
reported with their ratio. Prometheus is asked sequentially (one HTTP round trip after another) and
as the console's backend asks it each tick (concurrently from a thread pool).

    .venv/bin/python bench/prometheus_vs_local.py [--seconds 30] [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the Prometheus launcher the proof tests use

from console import promql  # noqa: E402
from console.backends.prometheus import PrometheusClient  # noqa: E402
from console.clock import WallClock  # noqa: E402
from console.config.schema import Prometheus, parse_config  # noqa: E402
from console.demo import Demo, demo_config_dict  # noqa: E402
from console.rules.load import load_rules  # noqa: E402

CONCURRENCY = 6  # as console.backends.RemoteMetrics


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


async def _timed(fn, repeat: int) -> tuple[list[float], object]:
    clock, times, result = WallClock(), [], None
    for _ in range(repeat):
        start = clock.monotonic()
        result = await fn()
        times.append(clock.monotonic() - start)
    return times, result


def _agree(a: list, b: list) -> bool:
    key = lambda r: sorted((tuple(sorted(lbl.items())), v) for lbl, v in r)  # noqa: E731
    for x, y in zip(a, b):
        for (lx, vx), (ly, vy) in zip(key(x), key(y)):
            if lx != ly or not (vx == vy or math.isclose(vx, vy, rel_tol=1e-12) or vx != vx and vy != vy):
                return False
        if len(x) != len(y):
            return False
    return True


async def run(seconds: float, repeat: int) -> dict:
    from test_prometheus_oracle import PrometheusServer, store_of

    demo = Demo(WallClock(), scenario="brute-force", seed=11)
    cfg = await demo.start()
    server = PrometheusServer(Path(tempfile.mkdtemp(prefix="opsconsole-bench-")), cfg.services)
    server.start()
    try:
        await server.wait_for("up == 1", 4)
        await asyncio.sleep(seconds)  # let Prometheus collect this much history: the data under test
        at = round(WallClock().now() - 2.0, 3)
        store = store_of(server.raw(at))
        sem = server.semantics()
        rcfg = parse_config(demo_config_dict(demo.urls, promql_semantics=sem), "<bench>")
        exprs = [r.expr for r in load_rules(rcfg, promql.check)]
        client = PrometheusClient(Prometheus(url=server.url, timeout=5.0))
        limit = asyncio.Semaphore(CONCURRENCY)

        async def local():
            return [promql.evaluate(e, store, at, semantics=sem) for e in exprs]

        async def sequential():
            return await asyncio.to_thread(lambda: [client.instant(e, at) for e in exprs])

        async def concurrent():
            async def one(e):
                async with limit:
                    return await asyncio.to_thread(client.instant, e, at)
            return await asyncio.gather(*(one(e) for e in exprs))

        await sequential()  # warm the connection pool and Prometheus's caches alike
        t_local, r_local = await _timed(local, repeat)
        t_seq, r_seq = await _timed(sequential, repeat)
        t_conc, _ = await _timed(concurrent, repeat)
        client.close()
        local_ms, seq_ms, conc_ms = _median_ms(t_local), _median_ms(t_seq), _median_ms(t_conc)
        return {
            "benchmark": "shipped rules: local evaluator vs Prometheus (HTTP round trip included)",
            "prometheus_version": server.api("/api/v1/status/buildinfo")["version"],
            "semantics": sem,
            "rule_expressions": len(exprs),
            "history_seconds": seconds,
            "series": len(store),
            "samples": store.sample_count(),
            "repeat": repeat,
            "local_ms": local_ms,
            "prometheus_sequential_ms": seq_ms,
            "prometheus_concurrent_ms": conc_ms,
            "ratio_sequential_over_local": round(seq_ms / local_ms, 2),
            "ratio_concurrent_over_local": round(conc_ms / local_ms, 2),
            "same_results": _agree(r_local, r_seq),
        }
    finally:
        server.stop()
        await demo.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0, help="history Prometheus collects first")
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()
    if shutil.which("prometheus") is None:
        print("prometheus is not installed (apt-get install prometheus)", file=sys.stderr)
        return 2
    print(json.dumps(asyncio.run(run(args.seconds, args.repeat)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
