"""Time to first data: `opsconsole demo` on a real pty, to its first frame and its first live figure, beside glances.

Each run starts the program on a fresh pseudo-terminal (120x40), reads what it writes and notes when the screen
text (escape sequences removed) first holds each marker: the console's frame is its header (`LIVE`), its first
live figure a number polled from a service (`buckets 25/500` in the conversion panel, `req 9.5/s` in the
pipeline strip: whichever comes first); glances' first full screen is when its CPU, MEM, LOAD and process-list
header have all been drawn. Console and glances alternate; median of --repeat runs; one JSON object.
Beside the times, the CPU seconds each had used when its last marker showed (`cpu_s`: the process; `tree_cpu_s`:
with its children, the demo's simulator): on a loaded box the times follow the load, the CPU much less.

usage: python bench/startup.py [--repeat 5] [--timeout 15] [--before DIR]

--before DIR also runs the console from another checkout (DIR on PYTHONPATH, e.g. `git archive aaf4dfd | tar -x
-C DIR`) in the same alternation: a before/after on the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from on_a_pty import spawn

GLANCES = "/usr/bin/glances"
ESC = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-B]|[=>78])")
CONSOLE = {"first_frame_s": [rb"LIVE"], "first_live_figure_s": [rb"buckets \d+/\d+|req \d[\d.]*/s"]}
GLANCE = {"first_frame_s": [rb"CPU", rb"MEM", rb"LOAD", rb"PID"]}  # all of them: its first full screen


def cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of the process, and of it with its children (the demo's simulator child)."""
    tick = os.sysconf("SC_CLK_TCK")

    def own(p: int) -> float:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            return 0.0

    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        kids = []
    mine = own(pid)
    return mine, mine + sum(own(k) for k in kids)


def run(cmd: list[str], markers: dict[str, list[bytes]], timeout: float, env: dict, cols=120, rows=40) -> dict:
    t0 = time.monotonic()
    pid, master = spawn(cmd, env, cols=cols, rows=rows)
    seen: dict[str, float] = {}
    cpu: tuple[float, float] | None = None  # at the last marker: the start-up's CPU, which load does not inflate
    text = b""
    first_byte = None
    while len(seen) < len(markers) and time.monotonic() - t0 < timeout:
        if not select.select([master], [], [], 0.02)[0]:
            continue
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        now = time.monotonic() - t0
        first_byte = first_byte if first_byte is not None else now
        text += ESC.sub(b"", data)  # a marker split across two reads is still found
        for name, pats in markers.items():
            if name not in seen and all(re.search(p, text) for p in pats):
                seen[name] = now
                if len(seen) == len(markers):
                    cpu = cpu_s(pid)
    os.write(master, b"q")
    deadline = time.monotonic() + 3
    done = False
    while not done and time.monotonic() < deadline:
        done = os.waitpid(pid, os.WNOHANG) != (0, 0)
        if not done and select.select([master], [], [], 0.05)[0]:
            try:
                os.read(master, 65536)
            except OSError:
                pass
    if not done:
        os.killpg(pid, signal.SIGKILL)  # our own child's process group (setsid above)
        os.waitpid(pid, 0)
    os.close(master)
    out = {"first_byte_s": round(first_byte, 3) if first_byte is not None else None}
    out.update({k: round(seen[k], 3) if k in seen else None for k in markers})
    out["cpu_s"] = round(cpu[0], 2) if cpu else None
    out["tree_cpu_s"] = round(cpu[1], 2) if cpu else None
    return out


def med(runs: list[dict], key: str):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(vals), 3) if len(vals) == len(runs) else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--before", metavar="DIR", help="also run the console from this checkout (PYTHONPATH)")
    a = ap.parse_args()
    opsconsole = str(Path(sys.executable).parent / "opsconsole")
    with tempfile.TemporaryDirectory() as data:
        # PYTHONDONTWRITEBYTECODE (set in some shells and CI) would make every run compile the console's ~120 modules
        # from source again: a warm start is one whose .pyc files exist, as they do after a user's first run
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_CONNECTION", "SSH_TTY", "PYTHONDONTWRITEBYTECODE")}
        env.update(OPSCONSOLE_DATA_DIR=data, TERM="xterm-256color")
        run([opsconsole, "demo"], CONSOLE, a.timeout, env)  # warm: the venv's files in the page cache, .pyc built
        order = [("console", [opsconsole, "demo"], CONSOLE, env), ("glances", [GLANCES, "-t", "1"], GLANCE, env)]
        if a.before:
            before = dict(env, PYTHONPATH=str(Path(a.before).resolve()))
            run([opsconsole, "demo"], CONSOLE, a.timeout, before)  # warm its .pyc too
            order.insert(1, ("console_before", [opsconsole, "demo"], CONSOLE, before))
        runs: dict[str, list[dict]] = {name: [] for name, *_ in order}
        for i in range(a.repeat):
            for name, cmd, markers, e in (order if i % 2 == 0 else order[::-1]):
                runs[name].append(run(cmd, markers, a.timeout, e))
    one, five, _ = os.getloadavg()
    result = {"repeat": a.repeat, "size": "120x40", "loadavg_1m": round(one, 2), "loadavg_5m": round(five, 2),
              **{name: {k: med(runs[name], k) for k in ("first_byte_s", *CONSOLE, "cpu_s", "tree_cpu_s")}
                 for name in runs if name.startswith("console")},
              "glances": {k: med(runs["glances"], k) for k in ("first_byte_s", *GLANCE, "cpu_s")},
              "runs": runs}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
