"""The wall's top row: open incidents per severity (P1–P4) and unacknowledged, in large digits; the next target."""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.widgets import Digits

from console.state import ConsoleState

from .figure import Figure
from .wall_incidents import SEVERITIES, counts
from .wall_target import NextTarget


class SeverityCount(Vertical):
    """One severity's count of open incidents, in large digits; a zero is dimmed."""

    DEFAULT_CSS = """
    SeverityCount { border: heavy $panel-lighten-2; width: 1fr; height: auto; min-width: 9; align-horizontal: center; }
    SeverityCount > Digits { width: auto; }
    SeverityCount > Figure { width: auto; height: 1; color: $text-muted; }
    SeverityCount.-zero > Digits { color: $text-muted; }
    SeverityCount.-P1 { border: heavy $error; background: $error 20%; }
    SeverityCount.-P2 { border: heavy $error; }
    SeverityCount.-P3 { border: heavy $warning; }
    SeverityCount.-P4 { border: heavy $secondary; }
    SeverityCount.-unacked { border: heavy $error; }
    #count-unacked { min-width: 13; }
    """

    def __init__(self, label: str, key: str, caption: str) -> None:
        super().__init__(id=f"count-{key}")
        self.key = key
        self.border_title = label
        self.digits = Digits("0")
        self.caption = Figure(caption)

    def compose(self):
        yield self.digits
        yield self.caption

    def set(self, n: int) -> None:
        if self.digits.value != str(n):
            self.digits.update(str(n))
        self.set_class(n == 0, "-zero")
        self.set_class(n > 0, f"-{self.key}")



class WallCounts(Horizontal):
    """P1–P4 and unacknowledged counts, then the next target."""

    DEFAULT_CSS = "WallCounts { height: auto; }"

    def compose(self):
        for sev in SEVERITIES:
            yield SeverityCount(sev, sev, "open")
        yield SeverityCount("unacked", "unacked", "no owner")
        yield NextTarget(id="next-target")

    def show(self, state: ConsoleState) -> None:
        n = counts(state)
        for box in self.query(SeverityCount):
            box.set(n[box.key])
        self.query_one(NextTarget).show(state)
