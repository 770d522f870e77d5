"""`?`: every key, generated from the command registry (never kept by hand)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.commands import Registry
from widgets.bindings import install


def key_table(registry: Registry, refused: frozenset[str] = frozenset()) -> Table:
    """Plain Text cells: a key or title with brackets (`[`, `[keys]`) is shown as typed, never read as markup."""
    t = Table(box=None, padding=(0, 2), show_header=False)
    t.add_column(style="bold", no_wrap=True)
    t.add_column()
    t.add_column(style="dim")
    for title, commands in registry.sections():
        t.add_row(Text(title, style="underline", no_wrap=True), "", "")
        for c in commands:
            title = ("⊘ " if c.mutates and c.mutates in refused else "") + c.title
            t.add_row(Text(c.display), Text(title), Text(f"{c.note} · {c.id}" if c.note else c.id))
        t.add_row("", "", "")
    t.add_row(Text("Remap", style="underline"),
              Text('config [keys] table: command id = "key", e.g. "app.help" = "f1" (ids on the right)'), "")
    return t


class HelpScreen(ModalScreen):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96; max-width: 100%; max-height: 90%; border: round $accent;
                                  background: $surface; padding: 0 1; height: auto; }
    """

    def compose(self):
        with VerticalScroll() as v:
            v.border_title = "Keys"
            v.border_subtitle = "esc closes"
            yield Static(key_table(self.app.registry, self.app.refused))

    def on_mount(self) -> None:
        install(self, "help")
