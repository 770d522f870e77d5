"""The audit log: real SQLite via aiosqlite, append-only, every attempt, no secret, and `opsconsole audit`."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys

import pytest

from console.mitigations.catalog import load_actions
from console.mitigations.audit import AuditLog, AuditRow, audit_path, read_rows
from conftest import executor_for
from console.cli import main as cli_main
from console.clock import WallClock
from console.events import MitigationAudited


def row(ts: float, result: str, attempt: int = 1) -> AuditRow:
    return AuditRow(ts, "ops@host", "staging", "converge", "converge.intake_pause", None, attempt, result,
                    'POST http://x/v1/intake/mode {"mode": "pause"}', "HTTP 200 ok")


async def test_rows_are_written_in_order_and_read_back(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite")
    await log.open()
    for i, result in enumerate(("sent", "confirmed", "cancelled")):
        log.append(row(1000.0 + i, result, attempt=1 + i // 2))
    await log.flush()
    await log.close()
    rows = await read_rows(tmp_path / "a.sqlite")
    assert [(r["ts"], r["result"], r["attempt"]) for r in rows] == [(1000.0, "sent", 1), (1001.0, "confirmed", 1),
                                                                     (1002.0, "cancelled", 2)]
    assert [r["result"] for r in await read_rows(tmp_path / "a.sqlite", since=1001.0)] == ["confirmed", "cancelled"]
    again = AuditLog(tmp_path / "a.sqlite")
    await again.open()
    assert again.last_attempt == 2  # the next session numbers its attempts on from here
    await again.close()


async def test_the_log_is_append_only(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite")
    await log.open()
    log.append(row(1.0, "confirmed"))
    await log.close()
    db = sqlite3.connect(tmp_path / "a.sqlite")
    for sql in ("UPDATE audit SET result = 'cancelled'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    assert db.execute("SELECT result FROM audit").fetchall() == [("confirmed",)]
    db.close()


async def test_the_cli_prints_the_log_as_text_and_json(capsys):
    log = AuditLog(audit_path())  # the test's own data dir (OPSCONSOLE_DATA_DIR)
    await log.open()
    log.append(row(1.0, "confirmed"))  # 1970: outside any --since window
    log.append(row(WallClock().now() - 60, "failed"))
    await log.close()

    def run(*argv: str) -> str:
        assert cli_main(["audit", *argv]) == 0
        return capsys.readouterr().out

    text = await asyncio.to_thread(run)
    assert "CONFIRMED" in text and "FAILED" in text and "converge.intake_pause" in text and "ops@host" in text
    assert [r["result"] for r in json.loads(await asyncio.to_thread(run, "--since", "1h", "--json"))] == ["failed"]
    assert "no audit rows in that window" in await asyncio.to_thread(run, "--since", "1s")


async def test_every_attempt_is_audited_and_emitted_without_secrets(watch_factory, monkeypatch):
    # a command that prints a secret: its answer reaches the record, the audit row and the event scrubbed
    leak = {"id": "converge.leak", "title": "Print the key", "service": "converge", "command": [
        sys.executable, "-c", "import os; print('key is', os.environ['OPSCONSOLE_DEMO_CONVERGE_KEY'])"]}
    w = await watch_factory(tick=1.0, metrics_interval=1.0, actions=[leak])
    log = AuditLog(audit_path())
    ex = executor_for(w.engine, load_actions(w.engine.cfg), log)
    events = []
    w.engine.hub.subscribe(MitigationAudited, lambda ev: events.append(ev.data()))
    await ex.start()
    await w.run_for(3)
    await ex.execute(ex.plan("converge.leak"))
    ex.cancel(ex.plan("converge.intake_pause"))
    rec = await ex.execute(ex.plan("converge.intake_pause"))
    ex.refuse(ex.plan("converge.intake_pause"), ex.refusal(ex.plan("converge.intake_pause")))
    await w.run_for(1)
    assert rec.status == "confirmed"
    await ex.stop()
    rows = await read_rows(audit_path())
    assert [(r["action"], r["result"]) for r in rows] == [
        ("converge.leak", "confirmed"), ("converge.intake_pause", "cancelled"), ("converge.intake_pause", "sent"),
        ("converge.intake_pause", "refused"), ("converge.intake_pause", "confirmed")]
    assert rows[0]["detail"] == "exit 0: key is ***"
    assert [e["result"] for e in events] == [r["result"] for r in rows]
    secret = w.demo.credentials.converge_key
    assert secret not in json.dumps(rows) and secret not in json.dumps(events)
