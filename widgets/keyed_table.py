"""A DataTable kept in sync by row key: adds, removes and updates only the cells that changed."""

from __future__ import annotations

from rich.text import Text
from textual.actions import SkipAction
from textual.coordinate import Coordinate
from textual.widgets import DataTable


class KeyedTable(DataTable):
    """`sync(rows)` with rows = [(key, (cell, ...)), ...] in display order."""

    DEFAULT_CSS = "KeyedTable { height: 1fr; overflow-x: hidden; }"
    _one_cell = False  # inside update_cell: its whole-table refresh is replaced by the cell's own

    def __init__(self, columns: list[str], **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self._columns = columns
        self._widths: list[int | None] = [None] * len(columns)  # None: as wide as the content
        self._cells: dict[str, tuple] = {}
        self._order: list[str] = []
        self._rows: list[tuple[str, tuple]] = []  # the last rows given, before the filter
        self.filter = ""  # `/`: only rows whose text holds this (case-insensitive)

    def on_mount(self) -> None:
        for c in self._columns:
            self.add_column(c, key=c)

    def set_columns(self, columns: list[str], widths: list[int | None] | None = None) -> None:
        """Other columns or widths (a narrower layout, a resize): the rows are rebuilt at the next `sync`."""
        widths = widths or [None] * len(columns)
        if (columns, widths) == (self._columns, self._widths):
            return
        self.clear(columns=True)
        self._columns, self._widths = columns, widths
        for c, w in zip(columns, widths):
            self.add_column(c, key=c, width=w)
        self._order, self._cells = [], {}

    def set_filter(self, text: str) -> None:
        self.filter = text.strip()
        self.sync(self._rows)

    def sync(self, rows: list[tuple[str, tuple]]) -> None:
        self._rows = rows
        if self.filter:
            want = self.filter.lower()
            rows = [r for r in rows if any(want in str(getattr(_plain(c), "plain", c)).lower() for c in r[1])]
        rows = _unique(rows)
        keys = [k for k, _ in rows]
        if keys == self._order and any(_height(cells) != _height(self._cells.get(key, cells)) for key, cells in rows):
            self._order = []  # a row grows a line (an incident's owner) or loses one: heights are set when added
        if keys != self._order:
            # order or membership changed: rebuild (rare: an incident opens or closes)
            selected = self._order[self.cursor_row] if 0 <= self.cursor_row < len(self._order) else None
            self.clear()
            for key, cells in rows:
                self.add_row(*map(_plain, cells), key=key, height=None)  # a two-line cell: a two-line row
            self._cells = dict(rows)
            self._order = keys
            if selected in keys:
                self.move_cursor(row=keys.index(selected), animate=False)
            return
        for key, cells in rows:
            old = self._cells.get(key)
            if old == cells:
                continue
            for col, (a, b) in enumerate(zip(old, cells)):
                if a != b:
                    self._set_cell(key, col, _plain(b))
            self._cells[key] = cells

    def _set_cell(self, key: str, col: int, value) -> None:
        """One cell changed: repaint that cell alone. DataTable.update_cell repaints the whole table (every visible
        row and its scrollbar): on an SSH link that was most of the dashboard's bytes."""
        self._one_cell = True
        try:
            self.update_cell(key, self._columns[col], value)
        finally:
            self._one_cell = False
        self.refresh_coordinate(Coordinate(self.get_row_index(key), col))

    def refresh(self, *regions, **kw):
        if self._one_cell and not regions and not kw.get("layout") and not kw.get("recompose"):
            return self
        return super().refresh(*regions, **kw)

    @property
    def selected_key(self) -> str | None:
        if 0 <= self.cursor_row < len(self._order):
            return self._order[self.cursor_row]
        return None

    # Left/right belong to the dashboard (move between panels); a row table has no columns to walk.
    def action_cursor_left(self) -> None:
        raise SkipAction()

    def action_cursor_right(self) -> None:
        raise SkipAction()


def _plain(cell):
    """A str cell is text, never markup: a DataTable would parse it, and cells hold service names."""
    return Text(cell) if isinstance(cell, str) else cell


def _height(cells: tuple) -> int:
    return max((str(getattr(c, "plain", c)).count("\n") + 1 for c in cells), default=1)


def _unique(rows: list[tuple[str, tuple]]) -> list[tuple[str, tuple]]:
    """Row keys made unique: a service that lists a name twice shows it twice (`name`, `name#2`), never crashes."""
    seen: dict[str, int] = {}
    out = []
    for key, cells in rows:
        n = seen.get(key, 0) + 1
        seen[key] = n
        out.append((key if n == 1 else f"{key}#{n}", cells))
    return out
