"""The replay timeline: play state, speed, the recording's own wall-clock time, and a bar with incidents and actions."""

from __future__ import annotations

from datetime import datetime, timezone

from textual.containers import Vertical

from console.durations import format_duration

from .figure import Figure

# incidents and rules going off, things coming back, actions sent
SYMBOLS = {"alert": ("▲", "$error"), "clear": ("▽", "$success"), "action": ("◆", "$accent")}


def mark_kind(kind: str, data: dict) -> str | None:
    """What a recorded event shows as on the bar (None: not shown)."""
    if kind == "audit":
        return "action"
    if kind == "rule":
        if data.get("to") == "firing":
            return "alert"
        return "clear" if data.get("to") == "inactive" and data.get("from") == "firing" else None
    if kind == "incident":
        return {"opened": "alert", "reopened": "alert", "recovered": "clear", "resolve": "clear"}.get(data.get("event"))
    return None


def _utc(ts: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime(fmt)


class ReplayTimeline(Vertical):
    """Two lines: what is playing and when (the recording's time, never this machine's), and the bar."""

    DEFAULT_CSS = """
    ReplayTimeline { height: 2; background: $panel; padding: 0 1; }
    ReplayTimeline Figure { width: 1fr; }
    """

    def __init__(self, start: float, end: float, **kw) -> None:
        super().__init__(**kw)
        self.start, self.end = start, end
        self.marks: list[tuple[float, str]] = []
        self.status = Figure(id="timeline-status")
        self.bar = Figure(id="timeline-bar")
        self._last: tuple | None = None

    def compose(self):
        yield self.status
        yield self.bar

    def set_marks(self, events: list[tuple[float, str, dict]]) -> None:
        self.marks = [(ts, k) for ts, kind, data in events if (k := mark_kind(kind, data))]
        if self._last:
            self.show(*self._last)

    def set_end(self, end: float) -> None:
        """A file still being recorded: the bar spans what is recorded now."""
        self.end = end
        if self._last:
            self.show(*self._last)

    def on_resize(self) -> None:
        if self._last:
            self.show(*self._last)

    def show(self, position: float | None, playing: bool, speed: str, note: str = "") -> None:
        self._last = (position, playing, speed, note)
        pos = self.start if position is None else position
        mode = "[b]▶ playing[/]" if playing else "[b]❚❚ paused[/]"
        span = f"+{format_duration(pos - self.start)} of {format_duration(self.end - self.start)}"
        self.status.set(f"{mode} {speed}  [b]{_utc(pos)} UTC[/] (recorded)  {span}  "
                        f"[$warning]⊘ mitigations disabled[/]" + (f"  [italic]{note}[/]" if note else ""))
        self.bar.set(self._bar(pos))

    def _bar(self, pos: float) -> str:
        left, right = _utc(self.start, "%H:%M"), _utc(self.end, "%H:%M")
        width = max(10, (self.size.width or 80) - len(left) - len(right) - 6)
        span = max(self.end - self.start, 1e-9)

        def cell(ts: float) -> int:
            return min(width - 1, max(0, int((ts - self.start) / span * width)))

        cells = ["─"] * width
        for ts, kind in self.marks:  # an alert wins over a recovery or an action in the same cell
            c = cell(ts)
            if cells[c] == "─" or kind == "alert":
                sym, colour = SYMBOLS[kind]
                cells[c] = f"[{colour}]{sym}[/]"
        cells[cell(pos)] = "[b reverse]●[/]"
        return f"{left} ├{''.join(cells)}┤ {right}"
