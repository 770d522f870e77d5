"""What the dashboard costs an SSH link, beside glances: bytes/s to the terminal, CPU %, peak RSS, steady state.

Runs `opsconsole demo` and glances (`/usr/bin/glances -t 1`, 1 s refresh) on real ptys through
shared/tools/ptybench.py, alternating (console, glances, glances, console, ...) so both see the same load on a
shared machine, at each size and scenario; repeats and prints the medians and the ratios as one JSON object.
A `low-bandwidth` row (`opsconsole demo --low-bandwidth`) says what that mode saves; a `sim apart` row
(`opsconsole run` against `opsconsole sim` in another process, not measured) gives the console's own cost
without the simulated services it embeds in the demo.

usage: python bench/terminal.py [--seconds 30] [--warmup 8] [--repeat 3] [--sizes 120x40,160x48]
                                [--scenarios normal,debt-surge] [--low-bandwidth first|all|none]
                                [--sim-apart first|none] [--before DIR]

--before DIR also runs the console from another checkout (DIR on PYTHONPATH, e.g. `git archive 61a3d17 | tar -x
-C DIR`) in the same alternation, as `console_before`: a before/after on the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PTYBENCH = ROOT.parent / "shared" / "tools" / "ptybench.py"
GLANCES = "/usr/bin/glances"
# ptybench's own key names (steady_* are after --warmup): what each figure is read from
KEYS = {"bytes_per_s": "steady_bytes_per_s", "cpu_pct": "steady_cpu_pct", "peak_rss_mib": "peak_rss_mib"}


def ptybench(cmd: list[str], cols: int, rows: int, seconds: float, warmup: float, env: dict) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        full = [sys.executable, str(PTYBENCH), "--cols", str(cols), "--rows", str(rows), "--seconds", str(seconds),
                "--warmup", str(warmup), "--quit-key", "q", "--json", out.name, "--", *cmd]
        subprocess.run(full, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=env)
        res = json.loads(Path(out.name).read_text())
    missing = [k for k in KEYS.values() if res.get(k) is None]
    if missing:
        raise SystemExit(f"bench/terminal.py: ptybench gave no {missing} for {cmd[0]} (run too short?)")
    return {name: res[k] for name, k in KEYS.items()}


def start_sim(opsconsole: str, scenario: str, config: str, env: dict) -> tuple[subprocess.Popen, dict]:
    """`opsconsole sim` in its own process (ptybench measures only the console); its credentials for the console."""
    proc = subprocess.Popen([opsconsole, "sim", "--scenario", scenario, "--write-config", config],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    creds = {}
    for line in proc.stdout:  # it prints its URLs, `export K=V` lines, then "Ctrl-C stops it."
        if line.strip().startswith("export "):
            k, v = line.strip()[len("export "):].split("=", 1)
            creds[k] = v
        if line.startswith("Ctrl-C"):
            break
    return proc, creds


def median(runs: list[dict]) -> dict:
    out = {k: round(statistics.median(r[k] for r in runs), 2) for k in KEYS}
    out["runs"] = runs
    return out


def ratios(a: dict, b: dict) -> dict:
    return {k: round(a[k] / b[k], 2) if b[k] else None for k in KEYS}


def load() -> dict:
    one, five, _ = os.getloadavg()
    return {"loadavg_1m": round(one, 2), "loadavg_5m": round(five, 2), "cores": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="120x40,160x48")
    ap.add_argument("--scenarios", default="normal,debt-surge")
    ap.add_argument("--low-bandwidth", choices=("first", "all", "none"), default="first",
                    help="also run `demo --low-bandwidth` in the first cell, every cell, or none")
    ap.add_argument("--sim-apart", choices=("first", "none"), default="first",
                    help="also run the console against `opsconsole sim` in another process, in the first cell")
    ap.add_argument("--before", metavar="DIR", help="also run the console from this checkout (PYTHONPATH)")
    a = ap.parse_args()
    if not PTYBENCH.exists():
        sys.exit(f"bench/terminal.py: {PTYBENCH} not found (it ships in shared/tools beside the repo)")
    if not Path(GLANCES).exists():
        sys.exit(f"bench/terminal.py: {GLANCES} not found (the reference must run in the same bench)")
    opsconsole = str(Path(sys.executable).parent / "opsconsole")
    sizes = [tuple(int(x) for x in s.split("x")) for s in a.sizes.split(",")]
    scenarios = a.scenarios.split(",")
    with tempfile.TemporaryDirectory() as data:
        # the console records by default: into a scratch dir, and never over SSH detection of the caller
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_CONNECTION", "SSH_TTY")}
        env["OPSCONSOLE_DATA_DIR"] = data
        result = {"seconds": a.seconds, "warmup": a.warmup, "repeat": a.repeat, "load_before": load(),
                  "glances": f"{GLANCES} -t 1", "cells": {}}
        first = True
        for cols, rows in sizes:
            for scen in scenarios:
                lb = a.low_bandwidth == "all" or (a.low_bandwidth == "first" and first)
                apart = a.sim_apart == "first" and first
                first = False
                programs = {"console": [opsconsole, "demo", "--scenario", scen, "--no-low-bandwidth"],
                            "glances": [GLANCES, "-t", "1"]}
                if lb:
                    programs["console_low_bandwidth"] = [opsconsole, "demo", "--scenario", scen, "--low-bandwidth"]
                envs = {name: env for name in programs}
                if a.before:
                    programs["console_before"] = programs["console"]
                    envs["console_before"] = {**env, "PYTHONPATH": str(Path(a.before).resolve())}
                sim = None
                if apart:
                    config = str(Path(data) / "sim.toml")
                    sim, creds = start_sim(opsconsole, scen, config, env)
                    programs["console_sim_apart"] = [opsconsole, "run", "--config", config, "--no-low-bandwidth"]
                    envs["console_sim_apart"] = {**env, **creds}
                runs: dict[str, list[dict]] = {k: [] for k in programs}
                names = list(programs)
                try:
                    for i in range(a.repeat):
                        for name in (names if i % 2 == 0 else names[::-1]):  # alternate who goes first
                            runs[name].append(ptybench(programs[name], cols, rows, a.seconds, a.warmup, envs[name]))
                finally:
                    if sim is not None:
                        sim.terminate()  # the one process this bench started for it
                        sim.wait(10)
                cell = {name: median(r) for name, r in runs.items()}
                cell["console_over_glances"] = ratios(cell["console"], cell["glances"])
                if a.before:
                    cell["before_over_glances"] = ratios(cell["console_before"], cell["glances"])
                    cell["console_over_before"] = ratios(cell["console"], cell["console_before"])
                if lb:
                    cell["low_bandwidth_over_console"] = ratios(cell["console_low_bandwidth"], cell["console"])
                if apart:
                    cell["sim_apart_over_glances"] = ratios(cell["console_sim_apart"], cell["glances"])
                cell["console_at_most_glances"] = all(cell["console"][k] <= cell["glances"][k]
                                                      for k in ("bytes_per_s", "cpu_pct"))
                result["cells"][f"{cols}x{rows} {scen}"] = cell
                print(f"{cols}x{rows} {scen}: " + ", ".join(
                    f"{n} {c['bytes_per_s']:.0f} B/s {c['cpu_pct']:.1f}% {c['peak_rss_mib']:.0f} MiB"
                    for n, c in cell.items() if n in programs), file=sys.stderr)
        result["load_after"] = load()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
