"""The wall's next target: the nearest runbook target of any open incident, as a large countdown."""

from __future__ import annotations

from textual.containers import Vertical
from textual.widgets import Digits

from console.state import ConsoleState

from .figure import Figure
from .wall_incidents import VERB, most_urgent
from .wall_tile import text


def clock(seconds: float) -> str:
    """M:SS (H:MM:SS past an hour), `-` in front when overdue: what Digits can draw."""
    s = int(abs(seconds))
    body = f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"
    return ("-" if seconds < 0 else "") + body



class NextTarget(Vertical):
    """The nearest runbook target of any open incident, as a large countdown (negative: overdue)."""

    DEFAULT_CSS = """
    NextTarget { border: heavy $panel-lighten-2; width: 2fr; height: auto; min-width: 24; align-horizontal: center; }
    NextTarget.-over { border: heavy $error; }
    NextTarget.-over > Digits { color: $error; }
    NextTarget > Digits { width: auto; }
    NextTarget > Figure { height: 1; width: auto; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "Next target"
        self.digits = Digits("--:--")
        self.what = Figure()

    def compose(self):
        yield self.digits
        yield self.what

    def show(self, state: ConsoleState) -> None:
        urgent = most_urgent(state)
        if urgent is None:
            value, what, over = "--:--", "[$success]no target running[/]", False
        else:
            inc, t = urgent
            left = t.target - t.elapsed
            over = left < 0
            value = clock(left)
            verb = VERB.get(t.name, t.name)
            what = f"[bold $error]▲ {text(inc.id)} {verb} overdue[/]" if over else f"{text(inc.id)} {verb} due in"
        if self.digits.value != value:
            self.digits.update(value)
        self.what.set(what)
        self.set_class(over, "-over")
