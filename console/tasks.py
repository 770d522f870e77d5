"""Background work that fails loudly: an exception becomes a visible one-line error and a scrubbed log line."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import deque
from pathlib import Path

from .safe_text import NO_SECRETS, Scrubber, clean

log = logging.getLogger("console.tasks")

# Failures of supervised tasks not yet shown: (task name, one line). The engine drains it each tick, so a
# writer that died in the recorder or the incident store is seen in the header, not discovered next week.
_pending: deque[tuple[str, str]] = deque(maxlen=20)
_scrub: Scrubber = NO_SECRETS
_handler: logging.FileHandler | None = None


def one_line(e: BaseException) -> str:
    return clean(f"{type(e).__name__}: {e}", _scrub, 160)


def report(where: str, e: BaseException) -> str:
    """Log `e` with its traceback (scrubbed: a traceback's locals may hold a password) and return one line."""
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    log.error("%s failed: %s", where, clean(text, _scrub, keep_newlines=True))
    return one_line(e)


def supervise(task: asyncio.Task, name: str) -> asyncio.Task:
    """Report the task's exception when it ends with one (a cancelled task is not a failure)."""

    def done(t: asyncio.Task) -> None:
        if t.cancelled() or t.exception() is None:
            return
        _pending.append((name, report(name, t.exception())))

    task.add_done_callback(done)
    return task


def take_failures() -> list[tuple[str, str]]:
    out = list(_pending)
    _pending.clear()
    return out


class _ScrubFilter(logging.Filter):
    """Every record through the same scrubber as service text, arguments included."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = clean(record.getMessage(), _scrub, keep_newlines=True)
        record.args = None
        return True


def install_log(directory: Path, scrub: Scrubber) -> Path | None:
    """Errors and warnings to <data dir>/opsconsole.log, scrubbed. None if it cannot be written."""
    global _scrub, _handler
    _scrub = scrub
    path = directory / "opsconsole.log"
    root = logging.getLogger()
    if _handler is not None and Path(_handler.baseFilename) == path.resolve():
        return path
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", delay=False)
    except OSError:
        return None
    if _handler is not None:  # another data dir (tests, a second session): one log file at a time
        root.removeHandler(_handler)
        _handler.close()
    _handler = handler
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ScrubFilter())
    root.addHandler(handler)
    for h in root.handlers:  # the console's stderr handler (cli) scrubs too
        if not any(isinstance(f, _ScrubFilter) for f in h.filters):
            h.addFilter(_ScrubFilter())
    return path
