"""The append-only audit log of every attempted mitigation (SQLite via aiosqlite), and `opsconsole audit`."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import aiosqlite

from console.events import MitigationAudited
from console.paths import data_dir
from console.tasks import supervise

FILENAME = "audit.sqlite"
COLUMNS = ("ts", "user", "environment", "service", "action", "target", "attempt", "result", "summary", "detail")
SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,          -- when (epoch seconds, UTC)
    user TEXT NOT NULL,        -- user@host
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    action TEXT NOT NULL,      -- action id
    target TEXT,               -- the picked item, if any
    attempt INTEGER NOT NULL,  -- rows of one attempt share it (sent, then confirmed / propagating / failed)
    result TEXT NOT NULL,      -- cancelled | refused | failed | sent | propagating | confirmed
    summary TEXT NOT NULL,     -- what was (or would have been) sent, without secrets
    detail TEXT NOT NULL       -- one line: status code and answer, the error, or the reason
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
-- append-only: the log refuses to be rewritten, whoever opens the file
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


# One row of the audit log is the event the executor publishes: one type, not two with the same fields.
AuditRow = MitigationAudited


def audit_path(configured_dir: str | None = None) -> Path:
    return data_dir(configured_dir) / FILENAME


class AuditLog:
    """Rows are queued by `append` (never blocks the UI) and written in order by one writer task."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[AuditRow | None] = asyncio.Queue()
        self._writer: asyncio.Task | None = None
        self.last_attempt = 0

    async def open(self) -> None:
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.executescript(SCHEMA)
        await self._db.commit()
        async with self._db.execute("SELECT COALESCE(MAX(attempt), 0) FROM audit") as cur:
            self.last_attempt = (await cur.fetchone())[0]  # attempts are numbered on across sessions
        self._writer = supervise(asyncio.create_task(self._write(), name="audit-writer"), "audit log")

    def append(self, row: AuditRow) -> None:
        self._queue.put_nowait(row)

    async def flush(self) -> None:
        """Wait until every queued row is on disk."""
        await self._queue.join()

    async def close(self) -> None:
        if self._writer is not None:
            self._queue.put_nowait(None)
            await self._writer
            self._writer = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _write(self) -> None:
        while True:
            row = await self._queue.get()
            try:
                if row is None:
                    return
                await self._db.execute(f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                                       tuple(asdict(row)[c] for c in COLUMNS))
                await self._db.commit()
            finally:
                self._queue.task_done()


async def read_rows(path: Path, since: float | None = None) -> list[dict]:
    """Every row (oldest first), or those at or after `since`."""
    if not path.exists():
        return []
    async with aiosqlite.connect(path) as db:
        db.row_factory = aiosqlite.Row
        sql = f"SELECT id, {', '.join(COLUMNS)} FROM audit" + (" WHERE ts >= ?" if since is not None else "") + " ORDER BY id"
        async with db.execute(sql, () if since is None else (since,)) as cur:
            return [dict(r) for r in await cur.fetchall()]


def format_row(r: dict) -> str:
    when = datetime.fromtimestamp(r["ts"], tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    target = f" [{r['target']}]" if r.get("target") else ""
    return (f"{when}  #{r['attempt']:<4} {r['user']}  {r['environment']}  {r['service']}  {r['action']}{target}  "
            f"{r['result'].upper()}  {r['detail']}\n    {r['summary']}")


async def print_audit(path: Path, since: float | None, as_json: bool, out=None) -> int:
    """`opsconsole audit`: the log as text (or JSON), oldest first."""
    out = out or sys.stdout
    rows = await read_rows(path, since)
    if as_json:
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif not rows:
        out.write(f"no audit rows{' in that window' if since is not None else ''} ({path})\n")
    else:
        out.write("".join(format_row(r) + "\n" for r in rows))
    return 0
