"""Benchmark: what a viewer's rewind costs the collector — memory held per Rewind (each a Replay with its engine's
windows), the time of a rewind command over HTTP and the size of its answer; prints JSON.

The collector (engine, simulator, HTTP server, recording) runs in this process on a virtual clock, ticked once a
second for `--minutes`; then `--viewers` viewers (plain HTTP clients, each its own viewer id) rewind one after the
other to instants spread over the recording, and the collector's RSS is read after each (after a full collection).
The reference is the same collector's RSS with no Rewind held, read in the same run just before.
Usage: python bench/remote_rewinds.py [--minutes 65] [--viewers 4] [--scenario normal]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from console.clock import VirtualClock  # noqa: E402
from console.remote.auth import Tokens  # noqa: E402
from console.remote.server import Served  # noqa: E402
from console.session import Session  # noqa: E402

START = 1_795_000_000.3038151


def rss_mib() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main(minutes: int, viewers: int, scenario: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(clock=VirtualClock(START), scenario=scenario, seed=1, record=str(Path(tmp) / "c.opsrec"))
        served = Served(session, Tokens(None), "127.0.0.1", 0)
        await served.start()
        served.collector.rewinds.cap = viewers
        try:
            t0 = time.perf_counter()
            for _ in range(minutes * 60):
                session.engine.clock.advance(1.0)
                await session.engine.tick()
            fill_s = time.perf_counter() - t0
            await session.recorder.flush()
            url = f"http://127.0.0.1:{served.port}"
            import console.rewind  # noqa: F401  (its modules are loaded once per process: not a Rewind's cost)

            reference = rss_mib()
            rows = []
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                for i in range(viewers):
                    back = max(1, round(minutes * (i + 1) / (viewers + 1)))  # spread over the recording
                    t = time.perf_counter()
                    res = await client.post("/api/command", json={"cmd": "rewind", "goto": f"-{back}m"},
                                            headers={"X-Opsconsole-Viewer": f"bench-viewer-{i:04d}"})
                    took = time.perf_counter() - t
                    body = res.json()
                    assert body["ok"], body
                    rss = rss_mib()
                    rows.append({"minutes_back": back, "rewind_ms": round(took * 1000, 1),
                                 "answer_bytes": len(res.content), "rss_mib": round(rss, 1),
                                 "held_over_reference_mib": round(rss - reference, 1)})
                for i in range(viewers):
                    await client.post("/api/command", json={"cmd": "rewind", "live": True},
                                      headers={"X-Opsconsole-Viewer": f"bench-viewer-{i:04d}"})
            after = rss_mib()
            held = [0.0] + [r["held_over_reference_mib"] for r in rows]
            per = [b - a for a, b in zip(held, held[1:])]
            return {"scenario": scenario, "minutes_recorded": minutes, "fill_s": round(fill_s, 1),
                    "reference_rss_mib": round(reference, 1), "rewinds": rows,
                    "per_rewind_mib": [round(p, 1) for p in per],
                    "after_all_live_rss_mib": round(after, 1)}
        finally:
            await served.stop()
            await session.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, default=65)
    ap.add_argument("--viewers", type=int, default=4)
    ap.add_argument("--scenario", default="normal")
    a = ap.parse_args()
    print(json.dumps(asyncio.run(main(a.minutes, a.viewers, a.scenario)), indent=1))
