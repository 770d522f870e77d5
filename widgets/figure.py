"""One line of a panel that repaints only when its rendered text changes, never relaying out the screen."""

from __future__ import annotations

from textual.content import Content
from textual.strip import Strip
from textual.widgets import Static

from console.safe_text import markup_escape

from .one_line import draw_line, parsed
from .paint_once import PaintOnce


class Figure(PaintOnce, Static):
    """A Static that ignores updates with the same markup.

    A `width: auto` figure (header, strip, source bar) gets a fixed cell: `cells` wide (the widest text it usually
    takes), or wider once a longer text comes (without `cells`: as wide as its text, resized only when the text's
    width changes). Its text changing then repaints only the figure: a relayout would repaint the whole screen
    around it (measured: the kill-switch table's scrollbar was most of the bytes). The cell goes back to `cells`
    only when a text fits it again, so a width changes (and the screen relays out) only when a figure crosses its
    usual width, not on every tick.
    """

    DEFAULT_CSS = "Figure { height: 1; width: 1fr; }"

    def __init__(self, text: str = "", *, cells: int = 0, **kw) -> None:
        super().__init__(text, **kw)
        self._text = text
        self._usual = cells  # the text width this figure is sized for (auto-width figures only)
        self._cells: int | None = None  # the text width its cell has now; None until the first text (or not auto)
        self._auto: bool | None = None
        self.relayouts = 0  # how often a change of this figure's text changed its size (tests and benches read it)

    def set(self, text: str) -> None:
        if text == self._text:
            return
        self._text = text
        if self._auto is None:
            self._auto = self.styles.width is not None and self.styles.width.is_auto
        content = parsed(text)
        if self._auto:
            self._fit(content.cell_length)
        self.update(content, layout=False)

    def render_line(self, y: int) -> Strip:
        """Its one line, drawn without Textual's wrapping when it fits (most of a repaint's cost); as a Static
        draws it otherwise."""
        visual = self.visual
        if y == 0 and isinstance(visual, Content):
            return draw_line(self, visual, self.size.width, self.visual_style)
        return super().render_line(y)

    def _fit(self, length: int) -> None:
        """Grow the cell for a longer text; back to the usual width once a text fits it again."""
        want = self._cells
        if not self._usual:  # no usual width given (a rarely changing figure): fit the text, as `width: auto`
            want = length
        elif want is None or length > want:
            want = max(length, self._usual)
        elif length <= self._usual < want:
            want = self._usual
        if want != self._cells:
            self._cells = want
            self.relayouts += 1
            self.styles.width = want + self.styles.padding.left + self.styles.padding.right  # relays out, once

    def get_content_width(self, container, viewport) -> int:
        """As wide as its cell, not its text of the moment: a grid of figures (the narrow strip) sizes its columns by
        this, and a value growing inside its cell lays nothing out again, so the column must already hold it."""
        width = super().get_content_width(container, viewport)
        return max(width, self._cells) if self._cells else width

    @property
    def text(self) -> str:
        return self._text


def set_subtitle(widget, text: str) -> None:
    """Set a border subtitle only when it changes (assigning it always repaints the border); a panel whose table
    is filtered (`/`) says so."""
    flt = getattr(getattr(widget, "table", None), "filter", "")
    text = f"/{markup_escape(flt)} · {text}" if flt else text  # what was typed is text, never markup
    if widget.border_subtitle != text:
        widget.border_subtitle = text
