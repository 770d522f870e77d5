"""One line of a panel that repaints only when its rendered text changes (keeps SSH bytes low)."""

from __future__ import annotations

from textual.widgets import Static


class Figure(Static):
    """A Static that ignores updates with the same markup."""

    DEFAULT_CSS = "Figure { height: 1; width: 1fr; }"

    def __init__(self, text: str = "", **kw) -> None:
        super().__init__(text, **kw)
        self._text = text

    def set(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.update(text)

    @property
    def text(self) -> str:
        return self._text
