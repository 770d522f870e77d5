"""RSS of the series store once its windows are full and the sweeps trim them, beside the old trim (`del a[:k]`).

Each variant runs in a fresh process: N series at 1 s for the retention (1 h) plus the lookback slack, then
--after more minutes of samples while the store trims once a minute; prints RSS just before the first trim and at
the end, with the samples retained. `reference` is the same store with `Series.trim_before`'s arrays cut by
`del a[:k]`, as it was before `console.metrics.store.drop_head`. One JSON object.

usage: python bench/store_trim.py [--series 2000] [--after 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys
sys.path.insert(0, {root!r})
import console.metrics.store as store
if {reference!r}:
    def drop_head(a, k):
        del a[:k]
    store.drop_head = drop_head  # the trim as it was
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmRSS"))
st = store.SeriesStore(3600)
labels = [{{"__name__": f"m{{i % 40}}", "job": f"j{{i // 40}}", "i": str(i)}} for i in range({n})]
t0, full = 1_795_000_000.0, 3600 + 300 - 20  # just before the first sweep that trims
out = {{}}
for sec in range(full + 20 + {after} * 60):
    st.add_many((l, t0 + sec, float(sec)) for l in labels)
    if sec == full:
        out["full_rss_mib"], out["full_samples"] = round(rss(), 1), st.sample_count()
out["end_rss_mib"], out["end_samples"] = round(rss(), 1), st.sample_count()
print(json.dumps(out))
"""


def run(n: int, after: int, reference: bool) -> dict:
    code = CHILD.format(root=str(ROOT), reference=reference, n=n, after=after)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--after", type=int, default=10, help="minutes of trimming after the windows are full")
    a = ap.parse_args()
    print(json.dumps({"series": a.series, "minutes_after_full": a.after,
                      "drop_head": run(a.series, a.after, False),
                      "reference_del_slice": run(a.series, a.after, True)}, indent=1))


if __name__ == "__main__":
    main()
