"""`g` in a replay or a live rewind: a time to go to."""

from __future__ import annotations

from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from widgets.bindings import install

HINT = "HH:MM[:SS] (UTC), -15m / +5m from here, start, end, or 2026-11-22T03:14:00Z"


class GotoScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    GotoScreen { align: center middle; }
    GotoScreen > Vertical { width: 64; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, hint: str = HINT) -> None:
        super().__init__()
        self.hint = hint

    def compose(self):
        with Vertical() as v:
            v.border_title = "Go to"
            yield Static(self.hint)
            yield Input(placeholder="03:14", id="goto-input")

    def on_mount(self) -> None:
        install(self, "replay_goto")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
