"""One line of a panel that repaints only when its rendered text changes (keeps SSH bytes low)."""

from __future__ import annotations

from textual.widgets import Static

from console.safe_text import markup_escape


class Figure(Static):
    """A Static that ignores updates with the same markup."""

    DEFAULT_CSS = "Figure { height: 1; width: 1fr; }"

    def __init__(self, text: str = "", **kw) -> None:
        super().__init__(text, **kw)
        self._text = text

    def set(self, text: str) -> None:
        if text != self._text:
            # a fixed-size figure needs only a repaint; a relayout would repaint its neighbours too
            relayout = self.styles.width is not None and self.styles.width.is_auto
            self._text = text
            self.update(text, layout=relayout)

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
