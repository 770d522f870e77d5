"""What Textual's side of a dashboard paint costs, in-process: widgets, compositing and state handling per second.

Runs the demo's dashboard headless (Textual's pilot, a virtual clock, the `normal` scenario), lets the windows fill for
`--settle` virtual seconds, then times (thread CPU, so other processes' load does not count) every compositor
refresh and every state handed to the screen for `--seconds` virtual seconds. `--before DIR` runs the same
measurement on another checkout (DIR on PYTHONPATH, e.g. `git archive a5b1b32 | tar -x -C DIR`), alternating, and
prints both medians as JSON.

usage: python bench/compositing.py [--size 120x40] [--seconds 120] [--settle 70] [--repeat 2] [--before DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEASURE = r'''
import asyncio, json, sys, time
from console.clock import VirtualClock
from console.session import Session
from screens.app import OpsApp
from textual.screen import Screen

W, H, SECS, SETTLE = (int(a) for a in sys.argv[1:5])
START = 1_795_000_000.0  # the tests' fixed start (tests/conftest.py)
spent = {"composite": 0.0, "show": 0.0}
composite, show = Screen._compositor_refresh, OpsApp.on_state_changed

def timed_composite(self):
    t = time.thread_time(); composite(self); spent["composite"] += time.thread_time() - t

def timed_show(self, message):
    t = time.thread_time(); show(self, message); spent["show"] += time.thread_time() - t

Screen._compositor_refresh, OpsApp.on_state_changed = timed_composite, timed_show

async def main():
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(W, H)) as pilot:
        clock = app.session.engine.clock
        for _ in range(SETTLE):
            clock.advance(1); await app.session.engine.tick(); await pilot.pause()
        widgets = len(list(app.screen.walk_children()))
        spent.update(composite=0.0, show=0.0)
        t0 = time.thread_time()
        for _ in range(SECS):
            clock.advance(1); await app.session.engine.tick(); await pilot.pause()
        main_thread = time.thread_time() - t0
    print(json.dumps({"widgets": widgets, "composite_ms_per_s": spent["composite"] * 1000 / SECS,
                      "show_ms_per_s": spent["show"] * 1000 / SECS, "main_thread_ms_per_s": main_thread * 1000 / SECS}))

asyncio.run(main())
'''


def run(path: Path, w: int, h: int, seconds: int, settle: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(path)}
    out = subprocess.run([sys.executable, "-c", MEASURE, str(w), str(h), str(seconds), str(settle)], cwd=path,
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="120x40")
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--settle", type=int, default=70)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--before", metavar="DIR")
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    trees = {"after": ROOT, **({"before": Path(a.before).resolve()} if a.before else {})}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    for i in range(a.repeat):
        for name in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            runs[name].append(run(trees[name], w, h, a.seconds, a.settle))
    result = {"size": a.size, "virtual_seconds": a.seconds, "settle": a.settle,
              "loadavg_1m": round(os.getloadavg()[0], 2)}
    for name, rs in runs.items():
        result[name] = {k: round(statistics.median(r[k] for r in rs), 3) for k in rs[0]} | {"runs": rs}
    if "before" in result:
        result["after_over_before"] = {k: round(result["after"][k] / result["before"][k], 2)
                                       for k in ("widgets", "composite_ms_per_s", "main_thread_ms_per_s")}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
