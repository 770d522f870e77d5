"""`?`: every key, generated from the one keymap (never kept by hand)."""

from __future__ import annotations

from rich.table import Table
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from . import keymap

EXTRA = {  # keys a screen handles without a Binding of its own
    "dashboard.detail": "on a table: the selected row's service",
}


def key_table(app) -> Table:
    t = Table(box=None, padding=(0, 2), show_header=False)
    t.add_column(style="bold")
    t.add_column()
    keymap_over = getattr(app, "_keymap", {}) or {}
    for title, bindings in keymap.SECTIONS:
        t.add_row(f"[u]{title}[/]", "")
        for b in bindings:
            key = keymap_over.get(b.id, b.key_display or b.key) if b.id else (b.key_display or b.key)
            desc = b.description + (f" ({EXTRA[b.id]})" if b.id in EXTRA else "")
            t.add_row(key.replace("question_mark", "?"), desc)
        t.add_row("", "")
    t.add_row("[u]Remap[/]", "config [keys] table: binding id = \"key\", e.g. \"app.help\" = \"f1\"")
    return t


class HelpScreen(ModalScreen):
    BINDINGS = keymap.HELP
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-height: 90%; border: round $accent; background: $surface; padding: 0 1; height: auto; }
    """

    def compose(self):
        with VerticalScroll() as v:
            v.border_title = "Keys"
            v.border_subtitle = "esc closes"
            yield Static(key_table(self.app))
