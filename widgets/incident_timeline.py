"""An incident's timeline: state changes, actions taken, firing/recovery and value crossings, oldest first."""

from __future__ import annotations

from textual.containers import VerticalScroll
from console.safe_text import markup_escape as escape
from textual.widgets import Static

from console.clock import hms
from console.incidents.manager import Incident

MARK = {"state": "[$accent]◆[/]", "firing": "[$error]●[/]", "recovered": "[$success]↺[/]",
        "crossing": "[$warning]╳[/]", "action": "[$primary]⚙[/]", "update": "[$secondary]✉[/]", "note": "·"}


def timeline_lines(inc: Incident) -> list[str]:
    lines = []
    for e in sorted(inc.timeline, key=lambda e: e.ts):
        who = f" [dim]({escape(e.who)})[/]" if e.who and e.who != "console" else ""
        lines.append(f"[dim]{hms(e.ts)}[/] {MARK.get(e.kind, '·')} {escape(e.text)}{who}")
    return lines


class IncidentTimeline(VerticalScroll):
    DEFAULT_CSS = """
    IncidentTimeline { border: round $panel-lighten-2; height: 1fr; padding: 0 1; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "Timeline"
        self.body = Static("[dim]nothing yet[/]")
        self._text = ""

    def compose(self):
        yield self.body

    def show(self, inc: Incident) -> None:
        text = "\n".join(timeline_lines(inc)) or "[dim]nothing yet[/]"
        if text != self._text:  # grows by a line now and then: repaint (and relayout) only then
            self._text = text
            self.body.update(text)
            self.border_subtitle = f"{len(inc.timeline)} entries (UTC)"
            self.scroll_end(animate=False)
