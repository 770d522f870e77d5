"""`?`: every key, generated from the command registry (never kept by hand)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.commands import Registry
from widgets.bindings import install


def key_tables(registry: Registry, refused: frozenset[str] = frozenset()) -> list[Table]:
    """One table a section, titled; plain Text cells: a key or title with brackets is shown as typed, never markup."""
    tables = []
    for title, commands in registry.sections():
        t = Table(box=None, padding=(0, 1), show_header=False, expand=True, title=Text(title, style="bold underline"),
                  title_justify="left")
        t.add_column(no_wrap=True, width=12, style="bold")
        t.add_column(ratio=2)
        t.add_column(ratio=1, style="dim", overflow="ellipsis", no_wrap=True)
        for c in commands:
            name = ("⊘ " if c.mutates and c.mutates in refused else "") + c.title
            t.add_row(Text(c.display), Text(name + (f": {c.note}" if c.note else "")), Text(c.id))
        tables.append(t)
    tables.append(Text('\nRemap: the config\'s [keys] table, command id = "key", e.g. "app.help" = "f1" '
                       "(the ids are on the right)."))
    return tables


class HelpScreen(ModalScreen):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 124; max-width: 100%; max-height: 90%; border: round $accent;
                                  background: $surface; padding: 0 1; height: auto; }
    """

    def compose(self):
        with VerticalScroll() as v:
            v.border_title = "Keys"
            v.border_subtitle = "esc closes"
            yield Static(Group(*key_tables(self.app.registry, self.app.refused)))

    def on_mount(self) -> None:
        install(self, "help")
        self.query_one(VerticalScroll).focus()  # ↑ ↓ PgUp PgDn Home End scroll the list at once
