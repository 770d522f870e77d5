"""The recorder: every Observation, tick and event the engine sees, batched into the recording file off the UI's path."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from console import __version__
from console.clock import utc_iso
from console.config.schema import Config
from console.engine import Engine
from console.events import IncidentChanged, MitigationAudited, RuleTransition, StatePublished, Tick
from console.model import Observation
from console.paths import data_dir
from . import answers, keyframes, states
from .memos import CHUNKED, snapshots
from .format import (DERIVED, F_PAYLOAD, JSON, KEYFRAMES, MEMO, SCRAPE, SERIES, STATES, SUFFIX, TICK, Poll, StateEntry,
                     encode_keyframe, encode_polls, encode_samples, encode_states, migrate, minute_of)
from console import state_doc as codec
from console.tasks import supervise

log = logging.getLogger(__name__)

BATCH_S = 1.0  # a batch is written at least this often: a kill -9 loses at most this much
# On the wall clock a batch follows a published state, in the same wake-up as the tick that made it: on a timer of
# its own it woke the idle console (and its writer thread) once more every second. Not more often than this, when
# ticks are faster than a second.
AFTER_STATE_S = BATCH_S / 2
MAX_PENDING = 20_000  # ...or sooner when this many items wait (virtual time runs fast)
RETENTION_EVERY = 60  # batches between retention / size-cap passes
_USERINFO = re.compile(r"(://)[^/@\s]+@")


def session_path(cfg: Config, explicit: str | None = None) -> Path | None:
    """Where this session records: `--record PATH`, else per the config (`record = true|false|"DIR"`)."""
    if explicit:
        return Path(explicit).expanduser()
    if cfg.record is False:
        return None
    folder = Path(cfg.record).expanduser() if isinstance(cfg.record, str) else data_dir(cfg.data_dir) / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def open_recorder(engine: Engine, explicit: str | None = None) -> "Recorder | None":
    """Start recording this engine's session: into `explicit` (a file, or a folder for a new file), else
    where the config says; None when the config turns recording off."""
    where = session_path(engine.cfg, explicit)
    if where is None:
        return None
    if where.is_dir() or explicit is None:
        where = new_file_in(where, engine.clock.now(), engine.cfg.environment)
    return await Recorder(engine, where).start()


def new_file_in(folder: Path, now: float, environment: str) -> Path:
    """One file per session: <UTC start>-<environment>.opsrec, never reusing a name.

    The name is claimed by creating the file exclusively (an empty file is a new SQLite database): two consoles
    started in the same second (a war room) each get their own, never one the other is writing."""
    stem = f"{utc_iso(now).replace(':', '')}-{re.sub(r'[^A-Za-z0-9_.-]', '_', environment)}"
    folder.mkdir(parents=True, exist_ok=True)
    path, n = folder / f"{stem}{SUFFIX}", 1
    while True:
        try:
            with path.open("x"):
                return path
        except FileExistsError:
            n += 1
            path = folder / f"{stem}-{n}{SUFFIX}"


def secrets_of(cfg: Config) -> list[str]:
    """Every configured secret's value and the basic-auth token made from it, longest first."""
    out = list(cfg.secret_values())
    for s in cfg.services:
        if s.auth.type == "basic" and s.auth.password_env:
            pw = os.environ.get(s.auth.password_env)
            if pw:
                out.append(base64.b64encode(f"{s.auth.username}:{pw}".encode()).decode())
    return sorted({v for v in out if v}, key=len, reverse=True)


def scrub(obj: Any, secrets: list[str]) -> Any:
    """`obj` with every secret inside its strings (keys too) replaced by ***."""
    if not secrets:
        return obj
    if isinstance(obj, str):
        for s in secrets:
            obj = obj.replace(s, "***")
        return obj
    if isinstance(obj, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub(v, secrets) for v in obj]
    return obj


def echoes(text: str, secrets: list[str]) -> bool:
    """Whether JSON `text` (written with json's default ASCII escapes) holds a secret in one of its strings or keys.

    Escaping is per character, so a string holding a secret holds its escaped form in the text; when none is there
    nothing needs scrubbing, and the recorder skips walking the whole document (most of its thread's time)."""
    return any(json.dumps(s)[1:-1] in text for s in secrets)


def config_document(cfg: Config, secrets: list[str]) -> str:
    """The config as JSON for the metadata table: env var names stay, values and URL user:password go."""
    doc = scrub(cfg.model_dump(mode="json", by_alias=True), secrets)
    return _USERINFO.sub(r"\1***@", json.dumps(doc))


class _Open:
    """The entries of one stream's current minute; `saved` of them are already in partial rows."""

    __slots__ = ("minute", "entries", "saved")

    def __init__(self, minute: int) -> None:
        self.minute, self.entries, self.saved = minute, [], 0


class ChunkWriter:
    """Turns a batch into SQL: new streams, per-minute chunks (partial rows until the minute is sealed), events.

    Runs in a worker thread, one batch at a time; it alone owns its buffers.
    """

    def __init__(self, streams: dict[tuple, int], secrets: list[str]) -> None:
        self.ids = streams  # (kind, source, endpoint, labels json) → id
        self._secrets = secrets
        self._series_ids: dict[tuple, dict[tuple, int]] = {}  # (source, endpoint) → labels as scraped → stream id
        self.open: dict[int, _Open] = {}
        self.kinds: dict[int, str] = {i: k[0] for k, i in streams.items()}
        self.last_payload: dict[int, str] = {}
        self.now_ms = 0
        self.samples = 0
        self.state_doc: dict | None = None  # the previous published state, as a document (the next one's base)
        self.state_ts: float | None = None
        # the states as documents from their parts' texts; a body or an error that echoes a secret is in them too
        self.states = codec.Differ(lambda text, value: scrub(value, self.secrets) if echoes(text, self.secrets)
                                   else value)
        self.state_secrets: list[str] = []  # what its parts were scrubbed of

    @property
    def secrets(self) -> list[str]:
        return self._secrets

    @secrets.setter
    def secrets(self, value: list[str]) -> None:
        if value != self._secrets:  # labels scrubbed of other secrets name other streams
            self._series_ids = {}
        self._secrets = value

    def encode(self, items: list[tuple], seal_all: bool = False) -> dict[str, list]:
        plan: dict[str, list] = {"streams": [], "delete": [], "chunks": [], "head": [], "events": []}
        for item in items:
            if item[0] == "obs":
                self._obs(item[1], plan)
            elif item[0] == "tick":
                self._add(self._stream(TICK, "", "tick", None, plan), round(item[1] * 1000), Poll(item[1]), plan)
            elif item[0] == "state":
                self._state(item[1], item[2], plan)
            elif item[0] == "keyframe":
                self._keyframe(item[1], item[2], plan)
            elif item[0] == "memo":
                _, ts, part, text = item
                text = json.dumps(scrub(json.loads(text), self.secrets), sort_keys=True, default=list)
                self._add(self._stream(MEMO, "", part, None, plan), round(ts * 1000), Poll(ts, None, None, text), plan)
            else:
                _, ts, kind, data = item
                plan["events"].append((ts, kind, json.dumps(scrub(data, self.secrets), default=str)))
        for sid, buf in list(self.open.items()):
            if seal_all or buf.minute < minute_of(self.now_ms):
                self._seal(sid, plan)
            elif buf.saved < len(buf.entries):
                plan["head"].append(self._chunk(sid, buf.entries[buf.saved:], head=True))
                buf.saved = len(buf.entries)
        return plan

    def _stream(self, kind: str, source: str, endpoint: str, labels: str | None, plan: dict) -> int:
        key = (kind, source, endpoint, labels)
        sid = self.ids.get(key)
        if sid is None:
            sid = self.ids[key] = max(self.ids.values(), default=0) + 1
            self.kinds[sid] = kind
            plan["streams"].append((sid, kind, source, endpoint, labels))
        return sid

    def _obs(self, obs: Observation, plan: dict) -> None:
        ms = round(obs.ts * 1000)
        error = scrub(obs.error, self.secrets) if obs.error is not None else None
        if obs.endpoint == "metrics":  # as the engine tells a scrape from a JSON endpoint
            sid = self._stream(SCRAPE, obs.source, obs.endpoint, None, plan)
            known = self._series_ids.setdefault((obs.source, obs.endpoint), {})
            for s in (obs.samples or ()) if error is None else ():
                ser = known.get(lk := tuple(s.labels.items()))
                if ser is None:  # a series' stream, found once: its labels as JSON, scrubbed, cost most of a scrape
                    labels = json.dumps(scrub(s.labels, self.secrets), sort_keys=True)
                    ser = known[lk] = self._stream(SERIES, obs.source, obs.endpoint, labels, plan)
                self._add(ser, ms, (ms, s.value, None if s.ts is None else round(s.ts * 1000)), plan)
                self.samples += 1
            self._add(sid, ms, Poll(obs.ts, obs.status, error), plan)
            return
        sid = self._stream(JSON, obs.source, obs.endpoint, None, plan)
        text = None
        if error is None:
            body = json.dumps(obs.payload, separators=(",", ":"))
            if echoes(body, self.secrets):
                body = json.dumps(scrub(obs.payload, self.secrets), separators=(",", ":"))
            if body != self.last_payload.get(sid):
                text = self.last_payload[sid] = body
        self._add(sid, ms, Poll(obs.ts, obs.status, error, text), plan)

    def _state(self, ts: float, parts: dict, plan: dict) -> None:
        """A published state: the whole document at the first tick of each block (states.FULL_EVERY), else the
        diff from the previous one, saying which tick that was.

        The state comes as text by part (state_doc.dumps_parts): a part whose text is the previous state's is
        taken as the previous state's object, neither parsed, scrubbed nor walked again by the diff (most of a
        state is unchanged from one tick to the next)."""
        if self.secrets != self.state_secrets:  # the kept parts were scrubbed of other secrets
            self.states.forget()
            self.state_secrets = list(self.secrets)
        prev, base = self.state_doc, self.state_ts
        doc = self.states.take(parts)
        full = prev is None or base is None or ts // states.FULL_EVERY != base // states.FULL_EVERY or ts <= base
        entry = StateEntry(ts, None, codec.dumps(doc)) if full else \
            StateEntry(ts, base, codec.dumps(codec.diff(prev, doc)))
        self.state_doc, self.state_ts = doc, ts
        self._add(self._stream(STATES, "", "state", None, plan), round(ts * 1000), entry, plan)

    def _keyframe(self, ts: float, series: list, plan: dict) -> None:
        """The derived samples since the previous keyframe: one chunk, each series by its stream's id."""
        rows = []
        for labels, t_ms, values in series:
            key = json.dumps(scrub(labels, self.secrets), sort_keys=True)
            rows.append((self._stream(DERIVED, "", "", key, plan), t_ms, values))
        k_ms = round(ts * 1000)
        sid = self._stream(KEYFRAMES, "", "keyframe", None, plan)
        plan["chunks"].append((k_ms, sid, k_ms, sum(len(t) for _, t, _ in rows), 0, encode_keyframe(rows)))

    def _add(self, sid: int, ms: int, entry, plan: dict) -> None:
        self.now_ms = max(self.now_ms, ms)
        buf = self.open.get(sid)
        if buf is not None and buf.minute != minute_of(ms):
            self._seal(sid, plan)
            buf = None
        if buf is None:
            buf = self.open[sid] = _Open(minute_of(ms))
        buf.entries.append(entry)

    def _seal(self, sid: int, plan: dict) -> None:
        buf = self.open.pop(sid)
        if buf.saved:
            plan["delete"].append((buf.minute, buf.minute + 60_000, sid))
        plan["chunks"].append(self._chunk(sid, buf.entries))

    def _chunk(self, sid: int, entries: list, head: bool = False) -> tuple:
        if self.kinds[sid] == SERIES:
            t_ms = [e[0] for e in entries]
            data = encode_samples(t_ms, [e[1] for e in entries], [e[2] for e in entries], quick=head)
            return t_ms[0], sid, t_ms[-1], len(entries), 0, data
        t0, t1 = round(entries[0].ts * 1000), round(entries[-1].ts * 1000)
        if self.kinds[sid] == STATES:
            return t0, sid, t1, len(entries), 0, encode_states(entries, quick=head)
        flags = F_PAYLOAD if any(p.payload_text is not None for p in entries) else 0
        return t0, sid, t1, len(entries), flags, encode_polls(entries)


def _prepare(path: Path, meta: dict[str, str]) -> dict[tuple, int]:
    """Create or migrate the file, write the metadata; the existing streams (appending to a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:  # both only take effect before the first table
            conn.execute("PRAGMA page_size = 8192")  # a minute of a JSON body fits a page: less overflow slack
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn, str(path))
        with conn:
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(meta.items()))
            conn.execute("DELETE FROM meta WHERE key = 'closed'")  # appended to again: being written once more
        rows = conn.execute("SELECT id, kind, source, endpoint, labels FROM streams").fetchall()
    finally:
        conn.close()
    return {(k, s, e, lbl): i for i, k, s, e, lbl in rows}


class Recorder:
    """Subscribes to an engine and writes what it sees to one recording file."""

    def __init__(self, engine: Engine, path: str | Path, *, retention: float | None = None,
                 max_size: int | None = None) -> None:
        self.engine = engine
        self.path = Path(path)
        cfg = engine.cfg
        self.retention = cfg.record_retention if retention is None else retention
        self.max_size = cfg.record_max_size if max_size is None else max_size
        self.error: str | None = None
        self._pending: list[tuple] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        # one plain connection, used only in the one writer thread: a batch is one hop to it (encoded, written
        # and committed there), where aiosqlite made about nine, each a thread wake-up
        self._db: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._writer: ChunkWriter | None = None
        self._memo: dict[str, str] = {}
        self._state_texts: dict = {}  # the endpoints' texts of the last state, by part (state_doc.dumps_parts)
        self._keyframes = keyframes.Keyframer()
        self._answers = answers.AnswerLog()
        self._unsubscribe: list = []
        self._batches = 0
        self._lock = asyncio.Lock()
        self._closing = False
        self._last_batch = float("-inf")  # clock.monotonic() of the last batch started

    async def start(self) -> "Recorder":
        secrets = secrets_of(self.engine.cfg)
        st = self.engine.state
        meta = {"console_version": __version__, "created": utc_iso(self.engine.clock.now()),
                "config": config_document(self.engine.cfg, secrets), "environment": st.environment,
                "scenario": json.dumps(st.scenario), "mode": st.mode}
        streams = await asyncio.to_thread(_prepare, self.path, meta)
        self._writer = ChunkWriter(streams, secrets)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="recorder")
        self._db = await self._in_thread(self._connect)
        self.engine.observers.append(self._on_obs)
        hub = self.engine.hub
        self._unsubscribe = [hub.subscribe(Tick, self._on_tick), hub.subscribe(StatePublished, self._on_state)]
        self._unsubscribe += [hub.subscribe(kind, self._on_event) for kind in (RuleTransition, IncidentChanged,
                                                                               MitigationAudited)]
        self._task = supervise(asyncio.create_task(self._run(), name="recorder"), "recorder")
        return self

    # --- the engine's callbacks: append only, never block -------------------------------

    def _on_obs(self, obs: Observation) -> None:
        if obs.samples:
            self._keyframes.saw(obs)
        self._queue(("obs", obs))

    def _on_tick(self, tick: Tick) -> None:
        self._queue(("tick", tick.ts))

    def _on_event(self, event: RuleTransition | IncidentChanged | MitigationAudited) -> None:
        self._queue(("event", event.ts, event.kind, event.data()))

    def _on_state(self, published: StatePublished) -> None:
        # What the engine remembers beyond its windows (alerts' since, incidents, actions, a stage's start),
        # stored when it changes: a replay seek restores it instead of re-running the whole recording.
        state = published.state
        # the state as shown, as the war-room stream sends it: a seek shows it without an engine. Serialized here, by
        # part (the state moves on); parsed, scrubbed and diffed in the writer's thread, only the parts that changed
        self._queue(("state", state.ts, codec.dumps_parts(codec.to_doc(state), texts=self._state_texts)))
        keyframe = self._keyframes.due(state.ts)
        if keyframe:
            self._queue(("keyframe", state.ts, self._keyframes.take(self.engine.store, state.ts)))
            self._queue(("event", state.ts, keyframes.KIND, {"v": 2}))
        backend = self.engine.backend
        if backend is not None and hasattr(backend, "answered"):  # [prometheus]: the server's answers, as used
            got = self._answers.take(backend, state, full=keyframe)
            if got is not None:
                self._queue(("event", state.ts, *got))
        for part, value in snapshots(self.engine.parts()).items():
            text = json.dumps(value, sort_keys=True, default=list)
            if text != self._memo.get(part):
                self._memo[part] = text
                if part in CHUNKED:
                    self._queue(("memo", state.ts, part, text))
                else:
                    self._queue(("event", state.ts, f"memo:{part}", json.loads(text)))
        clock = self.engine.clock
        if not clock.exact and clock.monotonic() - self._last_batch >= AFTER_STATE_S:
            self._wake.set()  # virtual time (tests, snapshots) keeps batching by the wall second or by size

    def _queue(self, item: tuple) -> None:
        self._pending.append(item)
        if len(self._pending) >= MAX_PENDING:
            self._wake.set()

    # --- writing ------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closing:  # never cancelled mid-batch: a half-written batch would lose its chunks
            try:
                await asyncio.wait_for(self._wake.wait(), BATCH_S)
            except TimeoutError:
                pass
            self._wake.clear()
            self._last_batch = self.engine.clock.monotonic()
            await self.flush()

    async def _in_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)  # only its one thread uses it
        db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a committed batch survives kill -9
        # the writer appends and rarely reads back: a 256 KiB page cache, not SQLite's default 2 MiB, which filled
        # with pages it had just written and never needed again
        db.execute("PRAGMA cache_size = -256")
        return db

    async def flush(self, seal_all: bool = False) -> None:
        """Write what is pending as one transaction (encoded and written in the writer thread)."""
        async with self._lock:
            items, self._pending = self._pending, []
            if not items and not seal_all:
                return
            try:
                self._writer.secrets = secrets_of(self.engine.cfg)  # a rotated secret is scrubbed too
                self._batches += 1
                retention = self._batches % RETENTION_EVERY == 0
                await self._in_thread(self._batch, items, seal_all, retention)
            except Exception as e:  # noqa: BLE001 - a full disk must not take the console down
                self.error = f"recording to {self.path} failed: {type(e).__name__}: {e}".splitlines()[0]
                log.warning("%s", self.error)

    def _batch(self, items: list[tuple], seal_all: bool, retention: bool) -> None:
        self._write(self._writer.encode(items, seal_all))
        if retention:
            self._retention(self._writer.now_ms)

    def _write(self, plan: dict[str, list]) -> None:
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT INTO streams (id, kind, source, endpoint, labels) VALUES (?, ?, ?, ?, ?)",
                           plan["streams"])
            db.executemany("DELETE FROM head WHERE t0 >= ? AND t0 < ? AND stream_id = ?", plan["delete"])
            for table in ("chunks", "head"):
                plan[table].sort(key=lambda c: c[:2])  # ascending keys append at the b-tree's edge: full pages
                db.executemany(f"INSERT OR REPLACE INTO {table} (t0, stream_id, t1, n, flags, data)"
                               " VALUES (?, ?, ?, ?, ?, ?)", plan[table])
            db.executemany("INSERT INTO events (ts, kind, data) VALUES (?, ?, ?)", plan["events"])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _retention(self, now_ms: int) -> None:
        """Drop chunks older than the retention, then the oldest until under the size cap; never the file.

        A JSON stream keeps its newest payload before the cut: replay needs the body in force then.
        """
        db = self._db
        if self.retention:
            self._drop_before(minute_of(now_ms - int(self.retention * 1000)))
        if self.max_size:
            for _ in range(20):
                (pages,), (free,), (size,) = [db.execute(f"PRAGMA {p}").fetchone()
                                              for p in ("page_count", "freelist_count", "page_size")]
                if (pages - free) * size <= self.max_size:
                    break
                tick = self._writer.ids.get((TICK, "", "tick", None))  # the data's span, not a kept old body
                row = db.execute("SELECT min(t0), max(t1) FROM chunks WHERE t0 >= 0 AND stream_id = ?",
                                 (tick,)).fetchone()
                if row[0] is None or row[1] - row[0] < 120_000:
                    break
                self._drop_before(minute_of(row[0] + max(60_000, (row[1] - row[0]) // 10)))
        db.executescript("PRAGMA incremental_vacuum;")  # run to the end: stepped once it frees one page

    def _drop_before(self, cut_ms: int) -> None:
        db = self._db
        db.execute("BEGIN")
        db.execute(  # a range of the time-major key; the newest body before the cut stays
            "DELETE FROM chunks WHERE t0 < ?1 AND NOT (flags & 1 = 1 AND (stream_id, t0) IN"
            " (SELECT stream_id, max(t0) FROM chunks WHERE flags & 1 = 1 AND t0 < ?1 GROUP BY stream_id))", (cut_ms,))
        db.execute("DELETE FROM events WHERE ts < ?1 AND NOT (kind LIKE 'memo:%' AND ts = (SELECT max(e.ts)"
                   " FROM events e WHERE e.kind = events.kind AND e.ts < ?1))", (cut_ms / 1000,))
        db.execute("COMMIT")

    async def stop(self) -> None:
        """Unsubscribe, write everything (sealing every chunk) and fold the WAL back into the one file."""
        if self._on_obs in self.engine.observers:
            self.engine.observers.remove(self._on_obs)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._task is not None:
            self._closing = True
            self._wake.set()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._db is None:
            return
        await self.flush(seal_all=True)
        try:
            await self._in_thread(self._close, utc_iso(self.engine.clock.now()))
        finally:
            self._db = None
            self._thread.shutdown(wait=False)

    def _close(self, when: str) -> None:
        try:
            # a replay following this file stops following here (a killed console never writes it)
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('closed', ?)", (when,))
            self._db.executescript("PRAGMA incremental_vacuum;")  # the head's churn, given back
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            self._db.close()

    @property
    def samples(self) -> int:
        return self._writer.samples if self._writer else 0
