"""Per-viewer rewind on the collector: each attached viewer that steps back gets its own Display (its own Rewind)."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Callable

from console.display import Display
from console.facade import failed, ok, refused

from . import codec

log = logging.getLogger(__name__)
MAX_REWINDS = 4  # Rewinds held at once: each a Replay of the recording, its engine's hour of windows built only
# when that viewer asks for a plot or an incident's detail (README: what one costs)
IDLE = 900.0  # seconds without a command from a rewound viewer before its Rewind is closed (it is told: live)
VIEWER_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")


class ViewerRewinds:
    """The collector's rewound viewers, by viewer (token name + the viewer id it sends with every request).

    A viewer's display is opened by its first step back, and closed on `End`/`Esc` (live), when its last stream
    ends (gone), when it opens a new stream (a viewer (re)connecting starts live), and after `idle` seconds
    without a command from it. At most `cap` are held; past it a rewind is refused with one line. A live viewer's
    commands read `live`, a display that is never moved — never the collector's own."""

    def __init__(self, session, *, cap: int = MAX_REWINDS, idle: float = IDLE,
                 tell: Callable[[str, str], None] | None = None) -> None:
        self.session = session
        self.cap = cap
        self.idle = idle
        self.live = Display(session)
        self._tell = tell or (lambda key, message: None)  # a message to that viewer's streams: it goes live
        self._displays: dict[str, Display] = {}
        self._used: dict[str, float] = {}
        self._closing: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._displays)

    @staticmethod
    def key(viewer_id: str | None, token_name: str | None) -> str | None:
        """Whose display: the viewer id the client sends (checked: it is the client's word), within its token."""
        if viewer_id is None or not VIEWER_RE.fullmatch(viewer_id):
            return None
        return f"{token_name or ''}/{viewer_id}"

    def of(self, key: str | None) -> Display:
        """The display a viewer's command reads: its own while rewound (and that counts as use), else live."""
        display = self._displays.get(key) if key is not None else None
        if display is None:
            return self.live
        self._used[key] = self.session.clock.now()
        return display

    async def move(self, key: str | None, cmd: dict) -> dict:
        """A viewer's `rewind` command; a rewound answer carries the state shown (`state`, a codec document)."""
        display = self._displays.get(key) if key is not None else None
        if display is None:
            if cmd.get("live"):
                return ok("live")
            if key is None:
                return failed("rewind: this viewer sends no viewer id (an older opsconsole?): nothing moved")
            if len(self._displays) >= self.cap:
                return refused(f"{len(self._displays)} viewers are rewound already (the collector holds at most "
                               f"{self.cap}): try again when one returns to live")
            display = self._displays[key] = Display(self.session)
        self._used[key] = self.session.clock.now()
        try:
            answer = await self.session.request(cmd, display=display)
        finally:
            if not display.rewound and self._displays.get(key) is display:
                self._forget(key)
        if answer.get("ok") and display.at is not None:
            answer["state"] = codec.normalized(codec.to_doc(display.shown(self.session.state)))
        return answer

    def drop(self, key: str | None, why: str | None = None) -> None:
        """Close a viewer's Rewind (gone, reconnected, or idle); `why`: tell its streams it is live again."""
        display = self._displays.get(key) if key is not None else None
        if display is None:
            return
        self._forget(key)
        if why:
            self._tell(key, why)
        task = asyncio.get_running_loop().create_task(display.close(), name="rewind-close")
        self._closing.add(task)  # a seek still running finishes in its thread first
        task.add_done_callback(self._closing.discard)

    def expire(self) -> None:
        """Called every tick: Rewinds unused for `idle` seconds are closed."""
        if not self._used:
            return
        now = self.session.clock.now()
        for key, used in list(self._used.items()):
            if now - used >= self.idle:
                log.info("closing an unused rewind (%s)", key)
                self.drop(key, f"Rewind closed after {self.idle / 60:.0f} min without use: live")

    async def close(self) -> None:
        """Every Rewind closed (the collector is stopping)."""
        for key in list(self._displays):
            self.drop(key)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _forget(self, key: str) -> None:
        self._displays.pop(key, None)
        self._used.pop(key, None)
