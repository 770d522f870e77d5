"""Chaos run: random faults on the simulated services while an engine watches and records; what broke and how fast it healed."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import statistics
from pathlib import Path

from console.clock import VirtualClock, WallClock
from console.demo import Demo
from console.engine import Engine
from console.paths import data_dir
from console.sources.transport import config_secrets

from console.sim.faults import KINDS

START = 1_795_000_000.0
WALL = WallClock()  # real time, for what a tick costs (the engine runs on the virtual clock)
FREEZE = 10.0  # real seconds a tick may take before it counts as frozen (deadlines are well under a second)


def secret_forms(values: list[str]) -> list[str]:
    """What must appear nowhere: each secret, its base64 forms and any base64 prefix long enough to matter."""
    out = set()
    for v in values:
        out.add(v)
        enc = base64.b64encode(v.encode()).decode()
        out.add(enc.rstrip("="))
        out.add(enc[:12])  # a cut-off prefix, as a recording truncated before scrubbing used to keep
    return sorted(out)


def find_secrets(blobs: dict[str, bytes], values: list[str]) -> list[str]:
    """'where: form' for every secret form found in any blob."""
    forms = secret_forms(values)
    return [f"{where}: {f[:4]}…" for where, blob in blobs.items() for f in forms if f.encode() in blob]


def everything_written(directory: Path, state_json: dict) -> dict[str, bytes]:
    """Every file under the data dir (recordings decoded, since their chunks are deflated) and the snapshot."""
    from console.recording.format import SUFFIX, Recording

    blobs = {"snapshot.json": json.dumps(state_json).encode()}
    for p in directory.rglob("*"):
        if not p.is_file():
            continue
        blobs[str(p)] = p.read_bytes()
        if p.name.endswith(SUFFIX):
            rec = Recording(p)
            try:
                decoded = [repr(rec.decode(sid, t0, data)) for sid, t0, _, data in rec.chunks(0, 2 ** 62)]
                decoded.append(repr(rec.events()))
                decoded.append(repr(rec.meta))
            finally:
                rec.close()
            blobs[f"{p} (decoded)"] = "\n".join(decoded).encode()
    return blobs


async def run_chaos(minutes: float = 10.0, seed: int = 1, kinds: tuple[str, ...] = KINDS, tick: float = 5.0,
                    timeout: float = 0.5, record: bool = True) -> dict:
    """Faults of random kinds on random services for random spans; the engine ticks on virtual time over real HTTP."""
    rng = random.Random(seed)
    clock = VirtualClock(START)
    demo = Demo(clock, scenario="normal", seed=seed)
    cfg = await demo.start(tick=tick)
    services = [s.model_copy(update={"timeout": timeout, "metrics_interval": max(tick, 5.0)}) for s in cfg.services]
    cfg = cfg.model_copy(update={"services": services})
    engine = Engine(cfg, clock, scenario="normal", persist_incidents=True)
    await engine.start()
    recorder = None
    if record:
        from console.recording.writer import open_recorder

        recorder = await open_recorder(engine)  # into <data_dir>/recordings, as the TUI does
    fleet = demo.fleet
    kind_of = {s.name: s.kind for s in cfg.services}
    # per service: the fault now on (kind, until) or the quiet span's end
    plan: dict[str, tuple[str | None, float]] = {s.name: (None, START + rng.uniform(0, 60)) for s in cfg.services}
    ended: dict[str, float] = {}  # service → when its last fault stopped, while not yet recovered
    recoveries: list[float] = []
    tried: set[str] = set()
    crashes, freezes, injected, slowest = [], 0, 0, 0.0
    wall = WALL.monotonic()
    end = START + minutes * 60
    try:
        while clock.now() < end:
            now = clock.now()
            for name, (kind, until) in plan.items():
                if now < until:
                    continue
                if kind is None and not kinds:  # the reference run: no fault, ever
                    continue
                if kind is None:  # quiet span over: a fault starts
                    kind = rng.choice(kinds)
                    fleet.faults.set(kind_of[name], kind)
                    tried.add(kind)
                    injected += 1
                    plan[name] = (kind, now + rng.uniform(15, 90))
                    ended.pop(name, None)
                else:
                    fleet.faults.clear(kind_of[name])
                    plan[name] = (None, now + rng.uniform(20, 90))
                    if engine.state.services[name].error:
                        ended[name] = now
            clock.advance(tick)
            t0 = WALL.monotonic()
            try:
                async with asyncio.timeout(FREEZE):
                    state = await engine.tick()
            except TimeoutError:
                freezes += 1
                continue
            except Exception as e:  # noqa: BLE001 - counted and reported: the run goes on like the console would
                crashes.append(f"{type(e).__name__}: {e}")
                continue
            slowest = max(slowest, WALL.monotonic() - t0)
            for name, at in list(ended.items()):
                if state.services[name].error is None:
                    recoveries.append(clock.now() - at)
                    del ended[name]
        fleet.faults.clear()
        if recorder is not None:
            await recorder.flush(seal_all=True)
        found = find_secrets(everything_written(data_dir(cfg.data_dir), engine.state.to_json()), config_secrets(cfg))
        strict = True
        try:
            json.dumps(engine.state.to_json(), allow_nan=False, default=str)
        except ValueError:
            strict = False
    finally:
        if recorder is not None:
            await recorder.stop()
        await engine.stop()
        await demo.stop()
    recoveries.sort()
    return {
        "virtual_minutes": minutes,
        "wall_seconds": round(WALL.monotonic() - wall, 1),
        "seed": seed,
        "fault_kinds_tried": sorted(tried),
        "faults_injected": injected,
        "crashes": len(crashes),
        "crash_examples": crashes[:3],
        "freezes": freezes,
        "slowest_tick_s": round(slowest, 2),
        "recoveries": len(recoveries),
        "unrecovered": sorted(ended),
        "recovery_median_s": round(statistics.median(recoveries), 1) if recoveries else None,
        "recovery_p95_s": round(recoveries[min(len(recoveries) - 1, int(0.95 * len(recoveries)))], 1) if recoveries else None,
        "recovery_max_s": round(recoveries[-1], 1) if recoveries else None,
        "poll_interval_s": max(s.interval for s in cfg.services),
        "secrets_found": len(found),
        "secret_places": found[:5],
        "snapshot_json_strict": strict,
    }
