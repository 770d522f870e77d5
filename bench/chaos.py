"""Benchmark: random faults of every kind on the simulated fleet while the engine watches and records; prints JSON.

The reference in the same run is the same fleet and engine with no fault at all (its slowest tick and wall time),
and the poll interval, which is the recovery aim (issue 10: recovered within one normal poll interval).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.chaos import run_chaos  # noqa: E402
from console.sim.faults import KINDS  # noqa: E402


async def main(minutes: float, seed: int, tick: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OPSCONSOLE_DATA_DIR"] = str(Path(tmp) / "faults")
        faults = await run_chaos(minutes=minutes, seed=seed, kinds=KINDS, tick=tick)
        os.environ["OPSCONSOLE_DATA_DIR"] = str(Path(tmp) / "reference")
        reference = await run_chaos(minutes=minutes, seed=seed, kinds=(), tick=tick)
    return {
        "bench": "chaos",
        "virtual_minutes": minutes,
        "tick_s": tick,  # the resolution of the recovery figures
        "fault_kinds": len(KINDS),
        "fault_kinds_tried": len(faults["fault_kinds_tried"]),
        "faults_injected": faults["faults_injected"],
        "crashes": faults["crashes"],
        "freezes": faults["freezes"],
        "recoveries": faults["recoveries"],
        "unrecovered": len(faults["unrecovered"]),
        "recovery_median_s": faults["recovery_median_s"],
        "recovery_p95_s": faults["recovery_p95_s"],
        "recovery_max_s": faults["recovery_max_s"],
        "secrets_found": faults["secrets_found"],
        "snapshot_json_strict": faults["snapshot_json_strict"],
        "slowest_tick_s": faults["slowest_tick_s"],
        "wall_seconds": faults["wall_seconds"],
        "reference": {"what": "same fleet and engine, no fault", "poll_interval_s": faults["poll_interval_s"],
                      "slowest_tick_s": reference["slowest_tick_s"], "wall_seconds": reference["wall_seconds"],
                      "crashes": reference["crashes"], "secrets_found": reference["secrets_found"]},
        "detail": {k: faults[k] for k in ("fault_kinds_tried", "crash_examples", "unrecovered", "secret_places")},
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="virtual minutes of chaos (default 20)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tick", type=float, default=1.0, help="engine tick, virtual seconds (default 1)")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main(args.minutes, args.seed, args.tick)), indent=2))
