"""Incidents and their transitions in SQLite (aiosqlite, WAL), so a restart of the console keeps them."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import aiosqlite

from console.clock import utc_iso
from .model import Entry, Incident
from console.paths import data_dir
from console.tasks import supervise

log = logging.getLogger(__name__)
FILENAME = "incidents.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, num INTEGER NOT NULL, environment TEXT NOT NULL, key TEXT NOT NULL,
    title TEXT NOT NULL, severity TEXT NOT NULL, source TEXT NOT NULL, service TEXT NOT NULL,
    runbook TEXT NOT NULL, rule TEXT NOT NULL, state TEXT NOT NULL, opened_at REAL NOT NULL,
    updated_at REAL NOT NULL, recovered_at REAL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transitions (
    incident_id TEXT NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL,
    state TEXT, who TEXT, text TEXT NOT NULL, PRIMARY KEY (incident_id, seq));
"""
_DATA = ("summary", "labels", "expr", "value", "silence_id", "notes", "info", "alert_labels")


class StoreBusy(Exception):
    """Another console process writes this store: two writers would overwrite each other's incidents."""


def default_path(configured_dir: str | None = None) -> Path:
    return data_dir(configured_dir) / FILENAME


class IncidentStore:
    """Writes are queued by the (synchronous) incident manager and flushed by one background task."""

    def __init__(self, path: Path, environment: str) -> None:
        self.path = path
        self.environment = environment
        self._db: aiosqlite.Connection | None = None
        self._pending: dict[str, Incident] = {}
        self._saved: dict[str, int] = {}  # incident id → transitions already written
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one flush at a time; close() waits for the running one
        self._task: asyncio.Task | None = None
        self._lock_fd: int | None = None

    def _take_lock(self) -> None:
        """One writing console per data dir (its other consoles share acknowledgements through Alertmanager)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no guard
            return
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreBusy(f"another console is using {self.path}") from None
        self._lock_fd = fd

    async def open(self) -> None:
        self._take_lock()
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.executescript(SCHEMA)
        await self._db.commit()
        self._task = supervise(asyncio.get_running_loop().create_task(self._writer()), "incident store")

    async def close(self) -> None:
        if self._task is not None:
            async with self._lock:
                self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._db is not None:
            await self.flush()
            await self._db.close()
            self._db = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def save(self, inc: Incident) -> None:
        self._pending[inc.id] = inc
        self._wake.set()

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - a full disk must not stop the console; retried on the next change
                log.exception("incident store: write failed")

    async def flush(self) -> None:
        async with self._lock:
            if self._db is None or not self._pending:
                return
            batch, self._pending = self._pending, {}
            for inc in batch.values():
                await self._write(inc)
            await self._db.commit()

    async def _write(self, inc: Incident) -> None:
        data = json.dumps({k: getattr(inc, k) for k in _DATA})
        updated = max([e.ts for e in inc.timeline] + [inc.opened_at])
        await self._db.execute(
            "INSERT INTO incidents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
            "title=excluded.title, severity=excluded.severity, state=excluded.state, "
            "updated_at=excluded.updated_at, recovered_at=excluded.recovered_at, data=excluded.data",
            (inc.id, _number(inc.id), self.environment, inc.key, inc.title, inc.severity, inc.source,
             inc.service, inc.runbook, inc.rule, inc.state, inc.opened_at, updated, inc.recovered_at, data))
        done, upto = self._saved.get(inc.id, 0), len(inc.timeline)  # entries added meanwhile go next time
        rows = [(inc.id, i, e.ts, e.kind, e.state, e.who, e.text) for i, e in enumerate(inc.timeline[done:upto], done)]
        await self._db.executemany("INSERT OR REPLACE INTO transitions VALUES (?,?,?,?,?,?,?)", rows)
        self._saved[inc.id] = upto

    async def max_number(self) -> int:
        async with self._db.execute("SELECT COALESCE(MAX(num), 0) FROM incidents") as cur:
            return (await cur.fetchone())[0]

    async def load(self, environment: str, closed_since: float) -> list[Incident]:
        """This environment's incidents not yet documented, and those closed recently enough to reopen."""
        return await _load(self._db, "WHERE environment = ? AND (state != 'documented' OR updated_at >= ?)",
                           (environment, closed_since), self._saved)


def _number(incident_id: str) -> int:
    """INC-7 → 7; a shared id (INC-KXQMRT or INC-KXQMRT-2, from the alert's labels) is no counter: 0."""
    tail = incident_id.removeprefix("INC-")
    return int(tail) if tail.isdigit() else 0


async def _load(db: aiosqlite.Connection, where: str, args: tuple, saved: dict | None = None) -> list[Incident]:
    db.row_factory = aiosqlite.Row
    async with db.execute(f"SELECT * FROM incidents {where} ORDER BY num", args) as cur:
        rows = await cur.fetchall()
    out = []
    for r in rows:
        async with db.execute("SELECT * FROM transitions WHERE incident_id = ? ORDER BY seq", (r["id"],)) as cur:
            timeline = [Entry(t["ts"], t["kind"], t["text"], t["who"], t["state"]) for t in await cur.fetchall()]
        extra = json.loads(r["data"])
        out.append(Incident(id=r["id"], key=r["key"], title=r["title"], severity=r["severity"], source=r["source"],
                            service=r["service"], runbook=r["runbook"], rule=r["rule"], opened_at=r["opened_at"],
                            state=r["state"], recovered_at=r["recovered_at"], timeline=timeline,
                            **{k: extra[k] for k in _DATA if k in extra}))
        if saved is not None:
            saved[r["id"]] = len(timeline)
    db.row_factory = None
    return out


async def list_incidents(path: Path, environment: str | None = None) -> list[tuple[str, Incident]]:
    """(environment, incident) for `opsconsole incidents`, oldest first; empty when there is no store yet."""
    if not path.exists():
        return []
    async with aiosqlite.connect(path) as db:
        where, args = ("WHERE environment = ?", (environment,)) if environment else ("", ())
        incidents = await _load(db, where, args)
        async with db.execute(f"SELECT id, environment FROM incidents {where}", args) as cur:
            envs = dict(await cur.fetchall())
    return [(envs[i.id], i) for i in incidents]


def report(rows: list[tuple[str, Incident]], now: float, as_json: bool = False) -> str:
    """What `opsconsole incidents` prints: a table, or JSON with every transition."""
    if as_json:
        return json.dumps([{"environment": env, **inc.to_json(now)} for env, inc in rows], indent=2) + "\n"
    if not rows:
        return "no incidents\n"
    lines = [f"{'ID':8} {'SEV':3} {'STATE':13} {'ENV':8} {'OPENED (UTC)':20} {'SERVICE':14} TITLE"]
    for env, inc in rows:
        state = inc.state + ("*" if inc.recovered_at is not None and inc.is_open else "")
        lines.append(f"{inc.id:8} {inc.severity:3} {state:13} {env[:8]:8} {utc_iso(inc.opened_at):20} "
                     f"{inc.service[:14]:14} {inc.title}")
    if any(inc.recovered_at is not None and inc.is_open for _, inc in rows):
        lines.append("* recovered: the alert cleared; resolving stays a human decision")
    return "\n".join(lines) + "\n"
