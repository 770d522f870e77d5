"""`/` on a table: show only the rows that hold some text (as k9s and lazygit filter their lists)."""

from __future__ import annotations

from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input

from widgets.bindings import install


class FilterScreen(ModalScreen[str | None]):
    """Enter applies (an empty filter shows every row again); Esc leaves the filter as it was."""

    DEFAULT_CSS = """
    FilterScreen { align: center bottom; }
    FilterScreen > Vertical { width: 60; height: auto; border: round $accent; background: $surface; margin-bottom: 3; }
    """

    def __init__(self, what: str, current: str) -> None:
        super().__init__()
        self.what, self.current = what, current

    def compose(self):
        with Vertical() as v:
            v.border_title = f"Filter {self.what}"
            v.border_subtitle = "enter applies · empty shows all · esc cancels"
            yield Input(value=self.current, placeholder="text in any column")

    def on_mount(self) -> None:
        install(self, "filter")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
