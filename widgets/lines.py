"""A widget that draws its own lines of small text cells (Textual's Line API): a changed line repaints alone.

Why not a Static per figure: each paint, Textual's compositor calls every widget inside the rectangle bounding all
the changes (the header clock at the top and a figure at the bottom span the whole screen). With one widget per
figure that was 64 widgets a paint; drawn here, a panel's lines are one widget, its unchanged lines come from a
cache and a changed cell marks only its own line dirty. Textual writes a change from the left edge of the widget
holding it, so figures that change often side by side on one line (the clock, the strip) stay widgets of their own.
"""

from __future__ import annotations

from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from .one_line import draw_line, parsed
from .paint_once import PaintOnce


class Cell:
    """One figure on a line: markup text, a usual width (its cell keeps at least that many cells, so a value
    changing inside it moves nothing), padding either side."""

    __slots__ = ("owner", "text", "usual", "left", "right_pad", "x", "width", "strip", "row", "id")

    def __init__(self, text: str = "", *, usual: int = 0, pad: tuple[int, int] = (0, 0), id: str | None = None) -> None:
        self.owner: CellLines | None = None
        self.text = text
        self.usual = usual
        self.left, self.right_pad = pad
        self.id = id
        self.x = 0
        self.width = 0  # cells on screen, padding included (0 until laid out)
        self.row = -1
        self.strip: Strip | None = None

    def set(self, text: str) -> None:
        """Show this text; the same text again costs nothing (nothing is repainted)."""
        if text == self.text:
            return
        self.text = text
        if self.owner is not None:
            self.owner.cell_changed(self)

    def natural(self) -> int:
        """Its width: its text (at least its usual width) and padding."""
        return max(cells(self.text), self.usual) + self.left + self.right_pad


def cells(markup: str) -> int:
    """The width a markup line takes on screen (parsed once: the same few lines come back every second)."""
    return parsed(markup).cell_length if markup else 0


class CellLines(PaintOnce, Widget):
    """Rows of cells, laid out left to right and cut at the edge; a row of one cell without a usual width takes the
    whole width and wraps as a Static would (only its first line is shown)."""

    DEFAULT_CSS = "CellLines { height: auto; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._rows: list[list[Cell]] = []
        self._line_strips: dict[int, Strip] = {}
        self._drawn_for: tuple | None = None  # (style, width) the cached strips were drawn with

    # --- what subclasses give ---------------------------------------------------------------------

    def set_rows(self, rows: list[list[Cell]]) -> None:
        """The cells shown, row by row (a changed number of rows lays the screen out again, once)."""
        grew = len(rows) != len(self._rows)
        for y, row in enumerate(rows):
            for cell in row:
                cell.owner, cell.row = self, y
        self._rows = rows
        self._line_strips.clear()
        for row in rows:
            for cell in row:
                cell.strip = None
            self._place(row)
        self.refresh(layout=grew)

    def row(self, y: int) -> list[Cell]:
        return self._rows[y] if 0 <= y < len(self._rows) else []

    def row_style(self, y: int):
        """The base style a row is drawn in (a panel in error dims its values)."""
        return self.visual_style

    # --- layout -----------------------------------------------------------------------------------

    def _place(self, row: list[Cell]) -> None:
        width = self.size.width
        x = 0
        for cell in row:
            cell.x = x
            cell.width = width if self.fills(row) else cell.natural()
            x += cell.width

    def fills(self, row: list[Cell]) -> bool:
        return len(row) == 1 and not row[0].usual

    def cell_changed(self, cell: Cell) -> None:
        y = cell.row
        if y < 0 or y >= len(self._rows) or cell not in self._rows[y]:
            return
        row = self._rows[y]
        before = [(c.x, c.width) for c in row]
        self._place(row)
        cell.strip = None
        self._line_strips.pop(y, None)
        if not self.size.width:
            return
        if [(c.x, c.width) for c in row] == before:
            self.refresh(Region(cell.x, y, cell.width, 1))  # the cell alone: nothing beside it moved
        else:
            for c in row:
                c.strip = None
            self.refresh(Region(0, y, self.size.width, 1))

    def on_resize(self) -> None:
        for row in self._rows:
            self._place(row)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._rows)

    # --- drawing ----------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.visual_style
        if self._drawn_for != (style, width):  # a resize, a theme or a class change: draw every line again
            self._drawn_for = (style, width)
            self._line_strips.clear()
            for row in self._rows:
                for cell in row:
                    cell.strip = None
                self._place(row)
        strip = self._line_strips.get(y)
        if strip is None:
            strip = self._line_strips[y] = self._draw_row(y, width)
        return strip

    def _draw_row(self, y: int, width: int) -> Strip:
        style = self.row_style(y) if y < len(self._rows) else self.visual_style
        blank = style.rich_style
        if y >= len(self._rows):
            return Strip.blank(width, blank)
        row = self._rows[y]
        if self.fills(row):
            return self._cell_strip(row[0], style, width, wrap=True)
        strips = [self._cell_strip(c, style, c.width) for c in row]
        return Strip.join(strips).crop_extend(0, width, blank) if strips else Strip.blank(width, blank)

    def _cell_strip(self, cell: Cell, style, width: int, wrap: bool = False) -> Strip:
        if cell.strip is not None and cell.strip.cell_length == width:
            return cell.strip
        inner = max(0, width - cell.left - cell.right_pad)
        blank = style.rich_style
        if cell.text and inner:
            content = parsed(cell.text)
            # a filling cell wraps as a Static of one line does (the first line shown); a figure is cut at its edge
            draw = inner if wrap else max(inner, content.cell_length)
            text = draw_line(self, content, draw, style, pad=True).crop_extend(0, inner, blank)
        else:
            text = Strip.blank(inner, blank)
        parts = [Strip.blank(cell.left, blank)] if cell.left else []
        parts.append(text)
        if cell.right_pad:
            parts.append(Strip.blank(cell.right_pad, blank))
        cell.strip = Strip.join(parts) if len(parts) > 1 else text
        return cell.strip
