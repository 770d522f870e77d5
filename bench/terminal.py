"""What the dashboard costs an SSH link and a wall screen: bytes/s written to the terminal and CPU %, steady state.

Runs `opsconsole demo` (normal scenario, wall clock) on a real pty through shared/tools/ptybench.py at
120x40 and 160x48 and prints one JSON object. usage: python bench/terminal.py [--seconds 40] [--warmup 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PTYBENCH = ROOT.parent / "shared" / "tools" / "ptybench.py"
SIZES = [(120, 40), (160, 48)]


def measure(cols: int, rows: int, seconds: float, warmup: float) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, str(PTYBENCH), "--cols", str(cols), "--rows", str(rows), "--seconds", str(seconds),
               "--warmup", str(warmup), "--quit-key", "q", "--json", out.name, "--",
               str(Path(sys.executable).parent / "opsconsole"), "demo"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        res = json.loads(Path(out.name).read_text())
    return {k: res.get(k) for k in ("steady_bytes_per_s", "steady_cpu_pct", "first_byte_s", "peak_rss_mib",
                                    "bytes_per_s", "cpu_pct_avg") if k in res}  # ptybench's own key names


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--warmup", type=float, default=10)
    a = ap.parse_args()
    if not PTYBENCH.exists():
        sys.exit(f"bench/terminal.py: {PTYBENCH} not found (it ships in shared/tools beside the repo)")
    result = {"scenario": "normal", "seconds": a.seconds, "warmup": a.warmup}
    for cols, rows in SIZES:
        result[f"{cols}x{rows}"] = measure(cols, rows, a.seconds, a.warmup)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
