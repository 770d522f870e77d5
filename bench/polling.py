"""Benchmark: one console polling 200 simulated services over loopback HTTP; p95 tick and CPU per service; JSON.

K copies of the simulator (console/sim/, 5 services each) run in child processes (--hosts of them,
so their CPU is not the console's). The console is the real Engine with the shipped rules and
panels, ticking as `Engine.run` does (1 s cadence, /metrics every second, JSON every 5 s). Each
phase warms up, then times --ticks ticks: wall time per tick (p50/p95/max), the console process's
CPU per service per tick, and the longest event-loop stall seen by a 10 ms watchdog.

The reference, in the same run against the same simulators ("httpx_reference"), is the same engine
with each service polled through its own httpx pool, as before the aiohttp polling client
(console/sources/client.py). --original-reference adds the console as it was before issue 17: one
httpx pool (32 connections, 16 kept alive) shared by every service, selection by scanning every
series of a metric name, and `import sniffio` failing on every lock httpcore sets up.
--profile FILE writes a cProfile of the timed ticks of the "after" phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_client import NoSniffio  # noqa: E402
from loop_stall import Watchdog  # noqa: E402
from console.clock import WallClock  # noqa: E402
from console.config.schema import parse_config  # noqa: E402
from console.demo import demo_config_dict  # noqa: E402
import console.engine  # noqa: E402
from console.engine import Engine  # noqa: E402
from console.metrics.store import SeriesStore  # noqa: E402
from console.sim.credentials import Credentials  # noqa: E402

SEED_ENV = "OPSCONSOLE_BENCH_CREDENTIAL_SEED"


async def host(fleets: int, first: int) -> None:
    """Child: serve `fleets` simulated fleets; print their URLs as one JSON line; run until stdin closes."""
    from console.sim import Fleet

    creds = Credentials.generate(int(os.environ[SEED_ENV]))
    started = []
    for k in range(first, first + fleets):
        fleet = Fleet(WallClock(), scenario="normal", seed=k, credentials=creds)
        started.append((k, await fleet.start("127.0.0.1")))
    print(json.dumps(started), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def scan_select(self, name, matchers, dot_all=True):
    """The reference selection: every series of the name, each tested against every matcher."""
    return [(labels, s) for labels, s in self.series(name) if all(m.matches(labels, dot_all) for m in matchers)]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (the simulators'), from /proc."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def phase(cfg, ticks: int, warmup: int, sims: list[int], profile: str | None = None) -> dict:
    engine = Engine(cfg, WallClock(), mode="live", persist_incidents=False)
    await engine.start()
    dog = Watchdog()
    task = None
    took, cpu = [], 0.0
    try:
        for k in range(warmup + ticks):
            if k == warmup:
                task = asyncio.create_task(dog.run())
                s0, t0 = cpu_seconds(sims), time.perf_counter()
            if profile and k == warmup:
                import cProfile
                prof = cProfile.Profile()
                prof.enable()
            w0, c0 = time.perf_counter(), time.process_time()
            await engine.tick()
            if k >= warmup:
                took.append(time.perf_counter() - w0)
                cpu += time.process_time() - c0
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - w0)))  # Engine.run's 1 s cadence
        sim_cpu = (cpu_seconds(sims) - s0) / (time.perf_counter() - t0)
        if profile:
            prof.disable()
            prof.dump_stats(profile)
    finally:
        if task is not None:
            task.cancel()
        await engine.stop()
    took.sort()
    errors = sum(1 for svc in engine.state.services.values() for ep in svc.endpoints.values() if ep.error)
    first_error = next((f"{svc.name}/{k}: {ep.error}" for svc in engine.state.services.values()
                        for k, ep in svc.endpoints.items() if ep.error), None)
    services = len(cfg.services)
    up = sum(1 for svc in engine.state.services.values() if any(ep.error is None for ep in svc.endpoints.values()))
    return {"ticks": ticks, "services_answering": up, "endpoints_in_error": errors,
            **({"first_error": first_error} if first_error else {}), "series": len(engine.store),
            "tick_s_p50": round(statistics.median(took), 3), "tick_s_p95": round(took[int(len(took) * 0.95)], 3),
            "tick_s_max": round(took[-1], 3),
            "cpu_s_per_tick": round(cpu / ticks, 3), "cpu_ms_per_service_per_tick": round(cpu / ticks / services * 1000, 2),
            "console_cpu_cores": round(cpu / sum(took), 2), "simulators_cpu_cores": round(sim_cpu, 2),
            **({k: v for k, v in dog.report().items() if k.startswith(("max_stall", "longest_gc"))} if dog.late else {})}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=200, help="a multiple of 5")
    ap.add_argument("--hosts", type=int, default=4, help="child processes serving the simulators")
    ap.add_argument("--ticks", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--no-reference", action="store_true", help="skip the httpx reference phase")
    ap.add_argument("--original-reference", action="store_true",
                    help="also run the console as it was before issue 17 (one shared httpx pool, no label index, no "
                         "sniffio): at 200 services on a busy machine most of its polls time out")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the timed ticks of the second phase into FILE")
    ap.add_argument("--host", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.host:
        return await host(*args.host)

    seed = secrets.randbits(32)
    env = {**os.environ, SEED_ENV: str(seed)}
    os.environ.update(Credentials.generate(seed).env())
    fleets = args.services // 5
    per = -(-fleets // args.hosts)
    procs = [subprocess.Popen([sys.executable, __file__, "--host", str(min(per, fleets - i)), str(i)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for i in range(0, fleets, per)]
    services, sims = [], [p.pid for p in procs]
    try:
        for p in procs:
            for k, urls in json.loads(p.stdout.readline()):
                for svc in demo_config_dict(urls)["services"]:
                    services.append({**svc, "name": f"{svc['name']}-{k}"})
        cfg = parse_config({"environment": "bench", "services": services}, "<bench>")
        out = {"services": len(services), "simulator_processes": len(procs)}
        if not args.no_reference:
            # the reference: the engine as at the start of this change, each service polled through its own
            # httpx pool (8 connections), everything else as now
            real_client = console.engine.poll_client
            console.engine.poll_client = lambda url, tls: httpx.AsyncClient(
                limits=httpx.Limits(max_connections=8, max_keepalive_connections=8), verify=tls(), follow_redirects=False)
            try:
                out["httpx_reference"] = await phase(cfg, args.ticks, args.warmup, sims)
            finally:
                console.engine.poll_client = real_client
        if args.original_reference:
            real_select, real_build = SeriesStore.select, console.engine.build_source
            shared = httpx.AsyncClient(limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                                       follow_redirects=False)
            SeriesStore.select = scan_select
            console.engine.build_source = lambda svc, _client, clock: real_build(svc, shared, clock)
            sys.modules.pop("sniffio", None)
            sys.meta_path.insert(0, NoSniffio)
            try:
                out["before_issue_17"] = await phase(cfg, args.ticks, args.warmup, sims)
            finally:
                sys.meta_path.remove(NoSniffio)
                SeriesStore.select, console.engine.build_source = real_select, real_build
                await shared.aclose()
        out["after"] = await phase(cfg, args.ticks, args.warmup, sims, args.profile)
    finally:
        for p in procs:
            p.stdin.close()
            p.terminate()
            p.wait()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
