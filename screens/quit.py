"""`q` with incidents open: ask first, as k9s does (the demo's incidents are gone once it quits)."""

from __future__ import annotations

from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from widgets.bindings import install


class QuitScreen(ModalScreen[bool]):
    """`y` quits; `n` or Esc (the default) stays."""

    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Vertical { width: 64; max-width: 95%; height: auto; border: thick $warning; background: $surface;
                            padding: 0 1; }
    """

    def __init__(self, why: str) -> None:
        super().__init__()
        self.why = why

    def compose(self):
        with Vertical() as v:
            v.border_title = "Quit?"
            v.border_subtitle = "y quit · n / esc stay"
            yield Static(self.why, markup=False)

    def on_mount(self) -> None:
        install(self, "quit")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)
