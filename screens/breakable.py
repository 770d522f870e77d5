"""Text that wraps at a URL's or a command's separators (/ ? & = , space), never in the middle of a word."""

from __future__ import annotations

import re

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

# a piece ends after a separator, so a line ends in `/`, `?`, `&`, ... and the next starts with the next word
_PIECES = re.compile(r"[^/?&=,\s]*(?:[/?&=,]+|\s+|$)")


def pieces(text: str) -> list[str]:
    return [p for p in _PIECES.findall(text) if p]


def lines(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width`, broken after separators; a piece longer than a line is folded (only then
    is a word cut)."""
    out: list[str] = []
    line = ""
    for piece in pieces(text):
        if len(line) + len(piece.rstrip()) > width and line:
            out.append(line.rstrip())
            line = ""
        while len(piece.rstrip()) > width:
            out.append(piece[:width])
            piece = piece[width:]
        line += piece
    if line.strip() or not out:
        out.append(line.rstrip())
    return out


class Breakable:
    """A line of text (one style) for a Rich table cell: as wide as the column allows, broken at separators."""

    def __init__(self, text: str, style: str = "") -> None:
        self.text, self.style = text, style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n".join(lines(self.text, max(1, options.max_width))), style=self.style, no_wrap=True,
                   overflow="fold")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((len(p.rstrip()) for p in pieces(self.text)), default=0)
        return Measurement(min(longest, options.max_width), min(len(self.text), options.max_width))
