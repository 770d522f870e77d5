"""What the demo's simulated services cost under the demo's polls: the simulator child's CPU, read from /proc.

Starts the fleet in a forked child exactly as `opsconsole demo` does (console/sim_process.py `SimProcess`: the
five listening sockets bound first, the child serving them) and polls it as the demo's engine does: the demo config
(console/demo.py), one `console.sources` Source per service with its own poll client (console/sources/client.py,
aiohttp, connections kept 15 s), every due endpoint polled concurrently at a beat of 1 s, taking along what is due
within half a beat (console/engine.py `tick`/`run`). After `--warmup` seconds it reads the child's CPU from /proc
(schedstat: nanoseconds on a CPU, summed over its threads; stat: utime + stime in clock ticks, as a check) and
again after `--seconds`. The poller's own CPU is not counted.

usage: python bench/sim_polls.py [--seconds 60] [--warmup 10] [--repeat 3] [--scenario normal] [--idle] [--before DIR]

--idle: no polls at all (what the child costs between them).

--before DIR runs the same against another checkout (DIR on PYTHONPATH, e.g. `git -C /work/main archive 15cdc73 |
tar -x -C DIR`), alternating (after, before, before, after, ...), each run in its own process, so both sides see
the same load. Prints one JSON object: each side's runs and median % of a core, after ÷ before, the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = 1.0  # the demo's [console] tick
HZ = os.sysconf("SC_CLK_TCK")


def child_cpu(pid: int) -> tuple[float, float]:
    """(seconds on a CPU from schedstat summed over the child's threads, utime + stime from stat) of `pid`."""
    ns = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            ns += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return ns / 1e9, (int(fields[11]) + int(fields[12])) / HZ  # fields 14 and 15 of proc(5), after pid and comm


async def poll_for(seconds: float, warmup: float, scenario: str, idle: bool = False) -> dict:
    from console.clock import WallClock
    from console.sim_process import SimProcess
    from console.sources import build_source
    from console.sources.client import poll_client

    sim = SimProcess(scenario=scenario)
    clock = WallClock()
    try:
        cfg = await sim.start()
        clients = {s.name: poll_client(s.url, lambda: None) for s in cfg.services}
        sources = [] if idle else [build_source(s, clients[s.name], clock) for s in cfg.services]
        polls = errors = 0
        marks: dict[str, tuple] = {}
        t0 = clock.monotonic()
        start = clock.now()
        while True:
            elapsed = clock.monotonic() - t0
            if "warm" not in marks and elapsed >= warmup:
                marks["warm"] = (clock.monotonic(), *child_cpu(sim.pid), polls)
            if elapsed >= warmup + seconds:
                marks["end"] = (clock.monotonic(), *child_cpu(sim.pid), polls)
                break
            now = clock.now()
            for batch in await asyncio.gather(*(src.poll_due(now, TICK / 2) for src in sources)):
                polls += len(batch)
                errors += sum(1 for obs in batch if obs.error is not None)
            start += TICK
            await clock.sleep(max(0.05, start - clock.now()))
        for client in clients.values():
            await client.aclose()
    finally:
        await sim.stop()
    (t1, ns1, ticks1, p1), (t2, ns2, ticks2, p2) = marks["warm"], marks["end"]
    import console

    return {"cpu_pct": round(100 * (ns2 - ns1) / (t2 - t1), 4), "cpu_pct_ticks": round(100 * (ticks2 - ticks1) / (t2 - t1), 3),
            "polls_per_s": round((p2 - p1) / (t2 - t1), 3), "errors": errors, "console": str(Path(console.__file__).parent)}


def run_side(python: str, env: dict, a: argparse.Namespace) -> dict:
    out = subprocess.run([python, __file__, "--one", "--seconds", str(a.seconds), "--warmup", str(a.warmup),
                          "--scenario", a.scenario] + (["--idle"] if a.idle else []),
                         check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return json.loads(out.stdout)


def load() -> dict:
    one, five, _ = os.getloadavg()
    return {"loadavg_1m": round(one, 2), "loadavg_5m": round(five, 2), "cores": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scenario", default="normal")
    ap.add_argument("--idle", action="store_true", help="no polls: the child between them")
    ap.add_argument("--before", metavar="DIR", help="also run this checkout (PYTHONPATH), alternating")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a single run, in this process
    a = ap.parse_args()
    if a.one:
        print(json.dumps(asyncio.run(poll_for(a.seconds, a.warmup, a.scenario, a.idle))))
        return
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    sides = {"after": {**env, "PYTHONPATH": str(ROOT)}}
    if a.before:
        sides["before"] = {**env, "PYTHONPATH": str(Path(a.before).resolve())}
    names = list(sides)
    runs: dict[str, list] = {name: [] for name in names}
    result = {"seconds": a.seconds, "warmup": a.warmup, "repeat": a.repeat, "scenario": a.scenario, "idle": a.idle,
              "load_before": load()}
    for i in range(a.repeat):
        for name in names if i % 2 == 0 else reversed(names):  # after, before, before, after, ...
            runs[name].append(run_side(sys.executable, sides[name], a))
    result["load_after"] = load()
    for name in names:
        cpu = [r["cpu_pct"] for r in runs[name]]
        result[name] = {"cpu_pct_median": round(statistics.median(cpu), 4),
                        "polls_per_s_median": statistics.median(r["polls_per_s"] for r in runs[name]),
                        "runs": runs[name]}
    if a.before:
        before = result["before"]["cpu_pct_median"]
        result["after_over_before"] = round(result["after"]["cpu_pct_median"] / before, 3) if before else None
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
