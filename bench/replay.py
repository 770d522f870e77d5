"""Benchmark: record a day of the demo fleet (virtual clock), then open, seek and replay it; prints JSON.

    .venv/bin/python bench/replay.py [--hours 24] [--file PATH] [--regenerate] [--quick]

Seeks are timed from the recorded states (what the user waits for: the screen's state at the target), beside the
old seek through the engine (keyframes) and the floor (reading what a seek must read) at the same instants.

The recording is made the way the console makes one (the engine polls the simulated fleet at the demo's
1 s cadence and the recorder writes it), only with the five services called in-process (ASGI) instead of
over loopback sockets, so that a day takes minutes. It is kept and reused unless --regenerate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from console.clock import VirtualClock  # noqa: E402
from console.demo import Demo, demo_config  # noqa: E402
from console.engine import Engine  # noqa: E402
from console.recording.writer import Recorder  # noqa: E402
from console.recording import states  # noqa: E402
from console.recording.format import SERIES, Recording, decode_states  # noqa: E402
from console.recording.replay import Replay  # noqa: E402
from console.sources import build_source  # noqa: E402

START = 1_795_000_000.0
SEEKS = 20
# (hour, scenario, minutes): incidents spread over the day, normal in between
INCIDENTS = [(3, "error-spike", 30), (9, "latency", 30), (13, "debt-surge", 60), (17, "generate-errors", 20),
             (21, "service-down", 15)]


class _Fleet(httpx.AsyncBaseTransport):
    """Routes each simulated service's host to its ASGI app: the same handlers, no sockets."""

    def __init__(self, apps: dict[str, object]) -> None:
        self.apps = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.apps[request.url.host].handle_async_request(request)


async def generate(path: Path, hours: float) -> dict:
    clock = VirtualClock(START)
    demo = Demo(clock, scenario="normal", seed=1)
    urls = {kind: f"http://{kind.replace('_', '-')}.sim" for kind in demo.fleet.apps}
    cfg = demo_config(urls)
    engine = Engine(cfg, clock, scenario="normal")
    await engine.start()
    client = httpx.AsyncClient(transport=_Fleet({u.split("//")[1]: demo.fleet.apps[k] for k, u in urls.items()}))
    engine._sources = [build_source(s, client, clock) for s in cfg.services]
    rec = await Recorder(engine, path).start()
    began = time.perf_counter()
    ends = {}
    for hour, scenario, minutes in INCIDENTS:
        ends[START + hour * 3600] = scenario
        ends[START + hour * 3600 + minutes * 60] = "normal"
    until = START + hours * 3600
    while clock.now() < until:
        clock.advance(cfg.tick)
        switch = ends.pop(clock.now(), None)
        if switch:
            demo.fleet.set_scenario(switch)
        await engine.tick()
    await rec.stop()
    await client.aclose()
    await engine.stop()
    return {"generate_seconds": round(time.perf_counter() - began, 1), "recorded_samples": rec.samples}


def _timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def _p95(xs: list[float]) -> float:
    return sorted(xs)[int(0.95 * len(xs)) - 1]


def _window_scan(rec: Recording, at: float, retention: float) -> int:
    """The floor of a seek: SELECT and decode every series chunk of the hour the store holds at `at` (what a
    seek must read however it rebuilds the engine); samples decoded."""
    a_ms = round((at - retention) * 1000) - 60_000
    b_ms = round(at * 1000) + 1
    n = 0
    for sid, t0, _, data in rec.chunks(a_ms - a_ms % 60_000, b_ms):
        if rec.streams[sid].kind == SERIES:
            n += len(rec.decode(sid, t0, data)[0])
    return n


async def _rewinds(path: Path, targets: list[float], threaded: bool) -> dict:
    """Longest event-loop stall while the live console's rewind seeks to each target: in a worker thread (now),
    or the reference, the seek's work on the loop between its reads (drive_async, as it was)."""
    from loop_stall import Watchdog
    from console.recording.replay import drive_async
    from console.rewind import Rewind

    rewind = Rewind(str(path))
    dog = Watchdog()
    task = asyncio.create_task(dog.run())
    await asyncio.sleep(0.05)
    took = []
    try:
        for target in targets:
            t = time.perf_counter()
            if threaded:
                async with rewind.lock:
                    await rewind.to(target, exact=True)
            else:
                await drive_async(rewind.replay.seek_to(target))
            took.append(time.perf_counter() - t)
    finally:
        task.cancel()
        rewind.close()
    rep = dog.report()
    return {"rewinds": len(targets), "rewind_ms_median": round(statistics.median(took) * 1000),
            "loop_max_stall_ms": rep["max_stall_ms"], "loop_p99_stall_ms": rep["p99_stall_ms"],
            "loop_max_stall_own_cpu_ms": rep["max_stall_own_cpu_ms"], "longest_gc_pause_ms": rep["longest_gc_pause_ms"]}


def _states_scan(rec: Recording, sid: int, at: float) -> int:
    """The floor of a seek from the recorded states: SELECT + decompress the state chunks it reads (from the
    whole document's five minutes to the target), nothing applied; entries read."""
    at_ms = round(at * 1000)
    a = at_ms - at_ms % states.FULL_MS
    return sum(len(decode_states(data)) for _, _, _, data in rec.chunks(a, at_ms + 1, sid))


def _breakdown(path: Path) -> dict:
    """Bytes by what they hold: chunks by stream kind, events by kind (what a keyframe or a state costs)."""
    conn = sqlite3.connect(path)
    try:
        out = {f"chunks:{k}": b for k, b in conn.execute(
            "SELECT s.kind, sum(length(c.data)) FROM chunks c JOIN streams s ON s.id = c.stream_id GROUP BY s.kind")}
        out.update({f"events:{k}": b for k, b in conn.execute(
            "SELECT kind, sum(length(data)) FROM events GROUP BY kind")})
        out["streams_table"] = conn.execute("SELECT sum(length(coalesce(labels, '')) + length(source) + "
                                            "length(endpoint) + 16) FROM streams").fetchone()[0]
    finally:
        conn.close()
    return dict(sorted(out.items(), key=lambda kv: -(kv[1] or 0)))


def measure(path: Path, quick: bool = False) -> dict:
    size = path.stat().st_size
    rec = Recording(path)
    (samples, chunk_bytes), = rec.conn.execute(
        "SELECT sum(c.n), sum(length(c.data)) FROM chunks c JOIN streams s ON s.id = c.stream_id WHERE s.kind = ?",
        (SERIES,))
    start, end = rec.start, rec.end
    state_sid = states.stream(rec)
    rec.close()
    # first, while the process holds little else: a full garbage collection's pause grows with every object
    # alive (the seeks below leave their replays' caches), and it is the rest of a stall in the worker thread
    targets = [random.Random(11).uniform(start, end) for _ in range(8)]
    rewind = {"in_worker_thread": asyncio.run(_rewinds(path, targets, True)),
              "on_event_loop_reference": asyncio.run(_rewinds(path, targets, False))}
    opens = []
    for _ in range(5):
        dt, r = _timed(Replay, str(path))
        opens.append(dt)
        r.close()
    rng = random.Random(7)
    replay = Replay(str(path))  # from the recorded states, when the file has them
    engine = Replay(str(path), use_states=False)  # the same file through the engine: the old seek (keyframes)
    legacy = Replay(str(path), use_states=False)
    legacy.keyframes = False  # the same file, sought as a recording made before keyframes (the reference)
    floor_rec = Recording(path)
    seeks, engine_seeks, legacy_seeks, floors, state_floors, built, equal = [], [], [], [], [], [], 0
    for _ in range(SEEKS):  # alternated: the same instants, the same load on the machine
        target = rng.uniform(start, end)
        seeks.append(_timed(replay.seek, target)[0])
        engine_seeks.append(_timed(engine.seek, target)[0])
        equal += replay.state.to_json() | {"mode": 0} == engine.state.to_json() | {"mode": 0}
        built.append(_timed(replay.ensure_engine)[0])  # what a plot after the seek waits for (the engine there)
        if not quick:
            legacy_seeks.append(_timed(legacy.seek, target)[0])
        floors.append(_timed(_window_scan, floor_rec, target, replay.engine.store.retention)[0])
        if state_sid is not None:
            state_floors.append(_timed(_states_scan, floor_rec, state_sid, target)[0])
    legacy.close()
    floor_rec.close()
    # a rewind pressed again and again: 10 s back each time, from 5 random instants
    nearby = []
    for _ in range(5):
        target = rng.uniform(start + 3600, end)
        replay.seek(target)
        for k in range(1, 6):
            nearby.append(_timed(replay.seek, target - 10 * k)[0])
    # max speed: half an hour played tick by tick from a seek (the recorded states; the engine as the reference),
    # against a plain SELECT + decode of those chunks
    at = start + (end - start) / 2
    replay.seek(at)
    dt_play, _ = _timed(replay.advance, at + 1800)
    engine.seek(at)
    before = engine.samples
    dt_engine, _ = _timed(engine.advance, at + 1800)
    played = engine.samples - before
    from_states = replay.from_states
    replay.close()
    engine.close()
    scan = Recording(path)
    a_ms, b_ms = round(at * 1000), round((at + 1800) * 1000)
    t = time.perf_counter()
    rows = scan.conn.execute("SELECT stream_id, t0, data FROM chunks WHERE t0 >= ? AND t0 < ?", (a_ms, b_ms)).fetchall()
    dt_select = time.perf_counter() - t
    n = 0
    for sid, t0, data in rows:
        if scan.streams[sid].kind == SERIES:
            n += len(scan.decode(sid, t0, data)[0])
    dt_decode = time.perf_counter() - t
    scan.close()
    ms = lambda xs: {"median": round(statistics.median(xs) * 1000, 1), "p95": round(_p95(xs) * 1000, 1)}  # noqa: E731
    return {
        "rewind_seek_loop_stall": rewind,
        "hours": round((end - start) / 3600, 2),
        "file_bytes": size,
        "samples": samples,
        "bytes_per_sample_file": round(size / samples, 3),
        "bytes_per_sample_chunks": round(chunk_bytes / samples, 3),
        "bytes_by_kind": _breakdown(path),
        "open_ms_median": round(statistics.median(opens) * 1000, 1),
        "states": state_sid is not None,
        "keyframes": engine.keyframes,
        "seeks": SEEKS,
        "seek_ms": ms(seeks),
        "seek_same_state_as_engine": f"{equal}/{SEEKS}",
        "old_seek_ms_through_engine_with_keyframes": ms(engine_seeks),
        "engine_at_position_after_a_seek_ms": ms(built),
        "floor_states_select_and_decompress_ms": ms(state_floors) if state_floors else None,
        "floor_hour_of_chunks_select_and_decode_ms": ms(floors),
        **({} if quick else {"seek_ms_without_keyframes": ms(legacy_seeks)}),
        "seek_10s_back_again_ms": ms(nearby),
        "replay_max_speed_from_states": from_states,
        "replay_recorded_seconds_per_s_max_speed": round(1800 / dt_play),
        "replay_recorded_seconds_per_s_through_engine": round(1800 / dt_engine),
        "replay_samples_per_s_through_engine": round(played / dt_engine),
        "select_scan_samples_per_s": round(n / dt_select),
        "select_and_decode_samples_per_s": round(n / dt_decode),
        "engine_replay_vs_select_and_decode": round(played / dt_engine / (n / dt_decode), 4),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--file", default=str(Path(tempfile.gettempdir()) / "opsconsole-bench-day.opsrec"))
    p.add_argument("--regenerate", action="store_true")
    p.add_argument("--quick", action="store_true", help="skip the legacy (no keyframe) seeks: ~6.5 s each on a day")
    args = p.parse_args()
    path = Path(args.file)
    os.environ.setdefault("OPSCONSOLE_DATA_DIR", tempfile.mkdtemp(prefix="opsconsole-bench-"))
    figures: dict = {}
    if args.regenerate or not path.exists():
        for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            f.unlink(missing_ok=True)
        figures.update(asyncio.run(generate(path, args.hours)))
    figures.update(measure(path, args.quick))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
