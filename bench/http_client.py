"""Benchmark: the HTTP client's cost per request with and without sniffio, and exposition parsing per sample; JSON.

Requests: a pooled httpx client fetches the simulated data pipeline's /metrics (the
simulator runs in a child process, so only the client's CPU is counted here) N times, first with
`import sniffio` failing as it does when the package is not installed (a finder runs the same
full sys.path search for a missing module, then raises), then with sniffio importable, then with the
console's polling client (aiohttp, console/sources/client.py), all through `transport.get`.

Parsing: `console.sources.exposition.parse_exposition` (prometheus_client's parser behind our
per-line checks and target labels; a target's first scrape) and `Reparser` (its next scrapes,
same lines with new values) against the bare prometheus_client parser, on the simulator's real
body and on a synthetic body of 10,000 series, in microseconds per sample.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.machinery
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.sources import client as poll_client  # noqa: E402
from console.sources.exposition import Reparser, parse_exposition  # noqa: E402
from console.sources.transport import get  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class NoSniffio:
    """Makes `import sniffio` fail after the search a missing module costs."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "sniffio":
            return None
        importlib.machinery.PathFinder.find_spec("sniffio_not_installed", path)  # the real miss
        raise ModuleNotFoundError("No module named 'sniffio'", name="sniffio")


def start_sim() -> tuple[subprocess.Popen, str, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "console.cli", "sim"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    url, env = None, {}
    for line in proc.stdout:
        if m := re.match(r"\s+data_pipeline\s+(\S+)", line):
            url = m.group(1)
        elif m := re.match(r"\s+export (\w+)=(\S+)", line):
            env[m.group(1)] = m.group(2)
        elif line.startswith("Ctrl-C"):
            break
    if url is None:
        proc.kill()
        raise SystemExit("the simulator did not print its URLs")
    return proc, url, env


async def requests(url: str, key: str, n: int, lean: bool = False) -> tuple[float, float, str]:
    """(wall µs, client CPU µs) per request over n sequential GETs on one pooled client; the last body.
    lean: the console's polling client (aiohttp, console/sources/client.py) instead of httpx, through the same
    `transport.get` (total deadline, retry of a dropped keep-alive connection) the sources use."""
    if lean:
        client = poll_client.Client(max_connections=8)
    else:
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                                   follow_redirects=False)
    async with client:
        body = b""
        for _ in range(20):  # warm the pool
            body = (await get(client, url, {"x-api-key": key}, 5.0)).content
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            r = await get(client, url, {"x-api-key": key}, 5.0)
            assert r.status_code == 200
        return ((time.perf_counter() - w0) / n * 1e6, (time.process_time() - c0) / n * 1e6, body.decode())


def synthetic_body(series: int) -> str:
    lines = ["# HELP http_requests_total Requests.", "# TYPE http_requests_total counter"]
    for i in range(series):
        lines.append(f'http_requests_total{{method="GET",endpoint="/api/v1/e{i % 500}",'
                     f'status_code="{200 + i // 500 % 5}",tenant_id="t{i // 2500}"}} {i * 3.5}')
    return "\n".join(lines) + "\n"


def parse_cost(body: str, rounds: int) -> dict:
    samples = len(parse_exposition(body, "bench", "127.0.0.1:1"))

    def per_sample(fn) -> float:
        t0 = time.process_time()
        for _ in range(rounds):
            fn()
        return round((time.process_time() - t0) / rounds / samples * 1e6, 2)

    ours = per_sample(lambda: parse_exposition(body, "bench", "127.0.0.1:1"))
    ref = per_sample(lambda: [s for f in text_string_to_metric_families(body) for s in f.samples])
    reparser = Reparser("bench", "127.0.0.1:1")
    reparser.parse(body)  # the first scrape of a target is a full parse; the next ones repeat its shape
    again = per_sample(lambda: reparser.parse(body))
    return {"samples": samples, "console_first_scrape_us_per_sample": ours,
            "console_next_scrapes_us_per_sample": again, "prometheus_client_us_per_sample": ref}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    proc, base, env = start_sim()
    try:
        key = env["OPSCONSOLE_DEMO_DATA_PIPELINE_KEY"]
        sys.modules.pop("sniffio", None)
        sys.meta_path.insert(0, NoSniffio)
        before_wall, before_cpu, body = await requests(base + "/metrics", key, args.requests)
        sys.meta_path.remove(NoSniffio)
        after_wall, after_cpu, _ = await requests(base + "/metrics", key, args.requests)
        import sniffio  # noqa: F401  (proves the second run had it)
        lean_wall, lean_cpu, _ = await requests(base + "/metrics", key, args.requests, lean=True)
    finally:
        proc.terminate()
        proc.wait()
    print(json.dumps({
        "requests": args.requests,
        "without_sniffio": {"wall_us_per_request": round(before_wall), "client_cpu_us_per_request": round(before_cpu)},
        "with_sniffio": {"wall_us_per_request": round(after_wall), "client_cpu_us_per_request": round(after_cpu)},
        "client_cpu_saved_us_per_request": round(before_cpu - after_cpu),
        "poll_client_aiohttp": {"wall_us_per_request": round(lean_wall), "client_cpu_us_per_request": round(lean_cpu)},
        "poll_client_vs_httpx_cpu": round(lean_cpu / after_cpu, 3),
        "parse_simulator_body": parse_cost(body, 200),
        "parse_10000_series": parse_cost(synthetic_body(10_000), 3),
    }))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main())
