"""The Activity panel: recent mitigations with their status code, one-line answer and verification state."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import DataTable

from console.state import ActionRecord, ConsoleState

from .figure import set_subtitle
from .paint_once import OnceStatic, PaintOnce
from .keyed_table import KeyedTable

# Status is never colour alone: each has a word and a symbol.
STATUS = {
    "sending": ("… sending", "yellow"),
    "verifying": ("… verifying", "yellow"),
    "propagating": ("◐ propagating", "yellow"),
    "confirmed": ("✔ confirmed", "green"),
    "failed": ("✖ failed", "bold red"),
    "refused": ("⊘ refused", "magenta"),
    "cancelled": ("– cancelled", "dim"),
}
WIDTH = max(len(w) for w, _ in STATUS.values())  # cells are updated in place: the column never widens later


def activity_rows(state: ConsoleState) -> list[tuple[str, tuple]]:
    rows = []
    for a in state.actions:
        word, style = STATUS.get(a.status, (a.status, ""))
        when = datetime.fromtimestamp(a.ts, tz=timezone.utc).strftime("%H:%M:%S")
        what = a.action.split(".", 1)[-1]  # the service column already names the service
        what += f" {a.target}" if a.target and len(a.target) < 40 else " (several)" if a.target else ""
        if a.inverse_of is not None:
            what = f"undo #{a.inverse_of}: {what}"
        rows.append((str(a.seq), (str(a.seq), when, Text(word.ljust(WIDTH), style=style), a.service, what,
                                  a.answer[:60])))
    return rows


def detail(a: ActionRecord) -> Text:
    """The highlighted row in full (the table cuts it): status, what the re-poll saw, the answer."""
    word, style = STATUS.get(a.status, (a.status, ""))
    text = Text.assemble((f"#{a.seq} ", "bold"), (word, style), " — ")
    if a.proof:
        text.append(f"{a.proof} · ", style="bold" if a.status == "confirmed" else "")
    text.append(a.answer)
    return text


class Activity(PaintOnce, Vertical):
    DEFAULT_CSS = """
    Activity { border: round $panel-lighten-2; height: 1fr; min-height: 7; }
    Activity:focus-within { border: round $accent; }
    Activity.-failed { border: round $error; }
    Activity > #activity-detail { height: 3; padding: 0 1; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "Activity"
        self.table = KeyedTable(["#", "time", "status", "service", "action", "answer"], id="activity-table")
        self.detail = OnceStatic("", id="activity-detail", markup=False)
        self._records: dict[str, ActionRecord] = {}
        self._shown: Text | None = None

    def compose(self):
        yield self.table
        yield self.detail

    def show(self, state: ConsoleState) -> None:
        self.table.sync(activity_rows(state))
        if not self.table.has_focus and self.table.cursor_row != 0:
            self.table.move_cursor(row=0, animate=False)  # the newest, unless the user is browsing
        self._records = {str(a.seq): a for a in state.actions}
        latest = state.actions[0] if state.actions else None
        self.set_class(latest is not None and latest.status == "failed", "-failed")
        self._show_detail()
        if state.mode == "replay":
            set_subtitle(self, f"{len(state.actions)} recorded · nothing can be sent or undone from a replay"
                         if latest is not None else "no actions recorded yet")
        elif state.read_only:
            set_subtitle(self, "⊘ READ-ONLY: action keys refuse, nothing is sent")
        elif latest is None:
            set_subtitle(self, "no actions yet · a focused panel's keys show below")
        else:
            set_subtitle(self, f"{len(state.actions)} recent · u undoes the last")

    def _show_detail(self) -> None:
        rec = self.selected
        text = detail(rec) if rec else Text("")
        if text != self._shown:  # repaint only on change
            self._shown = text
            self.detail.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    @property
    def selected(self) -> ActionRecord | None:
        key = self.table.selected_key
        return self._records.get(key) if key else None

    @property
    def service(self) -> str | None:
        rec = self.selected
        return rec.service if rec else None
