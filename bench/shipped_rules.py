"""Benchmark: the 34 shipped rules evaluated locally over 15 virtual minutes of the simulated fleet;
prints JSON (median of --repeat evaluations of all of them, at one instant).

Run it from another checkout (`python bench/shipped_rules.py` there) for a before/after figure on
the same machine; alternate the runs, the box is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the same fleet-and-engine harness the tests use
os.environ.setdefault("OPSCONSOLE_DATA_DIR", tempfile.mkdtemp())

from conftest import start_watch  # noqa: E402

from console import promql  # noqa: E402


async def main(minutes: float, repeat: int) -> dict:
    w = await start_watch("normal", tick=5.0, metrics_interval=1.0)
    try:
        await w.run_for(minutes * 60, step=5.0)
        now = w.clock.now()
        exprs = [r.expr for r in w.engine.rules]
        for e in exprs:  # parsed once, as at config load
            promql.evaluate(e, w.engine.store, now)
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for e in exprs:
                promql.evaluate(e, w.engine.store, now)
            runs.append(time.perf_counter() - t0)
        return {"rules": len(exprs), "series": len(w.engine.store), "minutes": minutes,
                "repeat": repeat, "eval_all_ms_median": round(statistics.median(runs) * 1000, 3),
                "eval_all_ms_min": round(min(runs) * 1000, 3)}
    finally:
        await w.engine.stop()
        await w.demo.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--repeat", type=int, default=40)
    a = p.parse_args()
    print(json.dumps(asyncio.run(main(a.minutes, a.repeat))))
