"""The recorder: what reaches the file (never a secret), how compact it is, retention and size cap, the
metadata, where the TUI records by default, and a kill -9 mid-recording."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console import __version__
from console.recording import writer as recorder
from console.clock import WallClock
from console.events import MitigationAudited
from console.model import Observation, Sample
from console.recording.writer import Recorder, open_recorder
from console.recording.format import APPLICATION_ID, DERIVED, KEYFRAMES, SCHEMA_VERSION, SERIES, STATES, Recording
from console.recording.replay import Replay


def _decoded(path: Path) -> str:
    """Everything the recording holds, decompressed: stream labels, poll errors and bodies, events, metadata."""
    r = Recording(path)
    try:
        out = [json.dumps(s.labels) for s in r.streams.values()] + [json.dumps(r.meta)]
        out += [json.dumps(e) for e in r.events()]
        for sid, t0, _, data in r.chunks(0, 2**62):
            kind = r.streams[sid].kind
            if kind == STATES:  # the published states: whole documents and diffs
                out += [json.dumps(e.doc) for e in r.decode(sid, t0, data)]
            elif kind == KEYFRAMES:
                out += [json.dumps(values) for _, _, values in r.decode(sid, t0, data)]
            elif kind not in (SERIES, DERIVED):
                out += [f"{p.error} {p.payload_text}" for p in r.decode(sid, t0, data)]
        return "\n".join(out)
    finally:
        r.close()


def _pages(path: Path) -> int:
    """Bytes in use, committed WAL included (what a reader sees)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


async def test_compact_and_no_secret_reaches_the_file(watch_factory, tmp_path):
    w = await watch_factory("normal", tick=1.0, metrics_interval=1.0)
    path = tmp_path / "s.opsrec"
    rec = await Recorder(w.engine, path).start()
    secrets = list(w.demo.credentials.env().values())
    pw = w.demo.credentials.pulse_password
    # a service that echoes a secret (in a body, a label, an error) and an action's audit row naming one
    w.engine.ingest(Observation(w.clock.now(), "pulse", "config", payload={"note": f"token={pw}", pw: 1}))
    w.engine.ingest(Observation(w.clock.now(), "datapipe", "failed", error=f"HTTP 500: bad key {secrets[-1]}"))
    w.engine.ingest(Observation(w.clock.now(), "pulse", "metrics", samples=(
        Sample({"__name__": "leaky_total", "key": secrets[2], "job": "pulse"}, 1.0),)))
    w.engine.hub.publish(MitigationAudited(w.clock.now(), "u@h", "demo", "pulse", "x", None, 1, "sent", "POST /x",
                                           f"sent {secrets[3]}"))
    await w.run_for(60)
    await rec.flush()
    size1, samples1 = _pages(path), rec.samples
    await w.run_for(180)
    await rec.flush()
    growth = (_pages(path) - size1) / (rec.samples - samples1)  # the file's own fixed overhead aside
    while_open = _file_bytes(path)  # the WAL as a kill would leave it
    await rec.stop()
    data = _file_bytes(path) + while_open
    decoded = _decoded(path)  # chunks are compressed: grep what they hold too
    for value in secrets + [recorder.secrets_of(w.engine.cfg)[0]]:
        assert value.encode() not in data, "a secret reached the recording"
        assert value not in decoded, "a secret reached the recording"
    assert b"OPSCONSOLE_DEMO_PULSE_PASSWORD" in data  # env var *names* are kept: they say where secrets come from
    assert "token=***" in decoded and "bad key ***" in decoded and '"key": "***"' in decoded

    r = Recording(path)
    try:
        (n, size), = r.conn.execute("SELECT sum(c.n), sum(length(c.data)) FROM chunks c JOIN streams s"
                                    " ON s.id = c.stream_id WHERE s.kind = ?", (SERIES,))
        assert n == rec.samples > 40_000
        assert size / n < 1.0, f"{size / n:.2f} bytes per sample in the chunks"
        assert growth < 4.0, f"the file grew {growth:.2f} bytes per sample"
    finally:
        r.close()


async def test_metadata_schema_and_config_without_secrets(watch_factory, tmp_path):
    w = await watch_factory("normal")
    path = tmp_path / "m.opsrec"
    rec = await Recorder(w.engine, path).start()
    await w.run_for(30)
    await rec.stop()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    finally:
        conn.close()
    assert meta["console_version"] == __version__
    cfg = json.loads(meta["config"])
    assert [s["name"] for s in cfg["services"]] == [s.name for s in w.engine.cfg.services]
    assert cfg["services"][0]["auth"]["password_env"] == "OPSCONSOLE_DEMO_PULSE_PASSWORD"
    assert json.loads(meta["scenario"]) == "normal"


async def test_retention_and_size_cap_drop_old_chunks_never_the_file(watch_factory, tmp_path, monkeypatch):
    monkeypatch.setattr(recorder, "RETENTION_EVERY", 1)
    w = await watch_factory("normal", tick=10.0, metrics_interval=10.0)
    path = tmp_path / "r.opsrec"
    rec = await Recorder(w.engine, path, retention=600.0).start()
    start = w.clock.now()
    for _ in range(12):  # 24 minutes, written every 2 (virtual) minutes
        await w.run_for(120)
        await rec.flush()
    r = Recording(path)
    assert r.start >= w.clock.now() - 600 - 60 > start + 600  # older than 10 minutes (to the minute) is gone
    r.close()
    replay = Replay(str(path))
    try:  # the Converge flags body was sent once, at the start: kept across the cut, so the panel still fills
        assert replay.snapshot_at(replay.start).services["converge"].figures["flags"]
    finally:
        replay.close()

    before = _pages(path)
    rec.max_size = before * 3 // 4  # the cap: drop the oldest until the file fits
    await w.run_for(60)
    await rec.flush()
    await rec.stop()
    assert path.stat().st_size <= rec.max_size  # stop folds the WAL in: the file itself shrank
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    r = Recording(path)
    assert w.clock.now() - 600 + 60 < r.start and r.end == w.clock.now()  # the oldest minutes went, the newest stay
    r.close()


async def test_the_tui_records_each_session_into_the_data_dir_unless_told_not_to(watch_factory, tmp_path):
    w = await watch_factory("normal")
    rec = await open_recorder(w.engine)  # the TUI's default: the config's record = true
    await rec.stop()
    assert rec.path.parent == Path(os.environ["OPSCONSOLE_DATA_DIR"]) / "recordings"
    assert rec.path.suffix == ".opsrec" and rec.path.exists()
    second = await open_recorder(w.engine)
    await second.stop()
    assert second.path != rec.path  # one file per session
    w.engine.cfg = w.engine.cfg.model_copy(update={"record": False})
    assert await open_recorder(w.engine) is None
    w.engine.cfg = w.engine.cfg.model_copy(update={"record": str(tmp_path / "elsewhere")})
    third = await open_recorder(w.engine)
    await third.stop()
    assert third.path.parent == tmp_path / "elsewhere"


def _poll(cond, seconds: float, what: str):
    clock = WallClock()
    deadline = clock.monotonic() + seconds
    while clock.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.2)  # between polls of a bounded wait
    pytest.fail(f"timed out waiting for {what}")


def test_kill_9_mid_recording_loses_at_most_the_last_batch(tmp_path):
    path = tmp_path / "k.opsrec"
    env = {**os.environ, "OPSCONSOLE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "console.cli", "snapshot", "--demo", "--record", str(path),
                             "--for", "120s", "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        def span():
            if not path.exists():
                return None
            try:
                r = Recording(path)
            except Exception:  # noqa: BLE001 - not created yet
                return None
            try:
                return (r.start, r.end) if r.end is not None and r.end - r.start >= 6 else None
            finally:
                r.close()

        _poll(span, 60, "6 s of recording")
        replay = Replay(str(path))  # replaying while the console still records into the file (WAL readers)
        try:
            state = replay.snapshot_at(replay.end)
            assert state.services["pulse"].last_ok is not None
        finally:
            replay.close()
        before = span()[1]  # committed: must survive
        killed_at = WallClock().now()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    r = Recording(path)
    try:
        assert r.end >= before
        assert killed_at - r.end <= 3.0, "more than the last batch (1 s) and tick (1 s) was lost"
        assert r.skipped == []
    finally:
        r.close()
    replay = Replay(str(path))
    try:
        state = replay.snapshot_at(replay.end)
        assert all(s.last_ok is not None for s in state.services.values())
    finally:
        replay.close()


def test_recording_modules_are_headless():
    """The recorder, replay and export run without the UI: no textual import."""
    code = ("import sys, console.recording.writer, console.recording.format, console.recording.replay, console.recording.export\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_consoles_started_in_the_same_second_never_share_a_recording(tmp_path):
    """A war room starts several consoles at once: each claims its own file (was: both wrote one, IntegrityError)."""
    from concurrent.futures import ThreadPoolExecutor

    from console.recording.writer import new_file_in

    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: new_file_in(tmp_path, 1_764_600_000.0, "prod"), range(8)))
    assert len(set(paths)) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert all(p.name.startswith("2025-12-01T144000Z-prod") and p.suffix == ".opsrec" for p in paths)
