"""One line of text drawn as Textual draws it, without its word wrapping when the line fits."""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.style import Style
from textual.visual import Visual
from textual.widget import Widget

_NOT_REVERSED = Style(reverse=False)


@lru_cache(maxsize=1024)
def parsed(markup: str) -> Content:
    """A line of markup as Content, parsed once: a figure's text is measured and then drawn, and the same texts come
    back tick after tick (Content is immutable: one parse serves every widget that shows the text)."""
    return Content.from_markup(markup)


def draw_line(widget: Widget, content: Content, width: int, style: Style, *, pad: bool = False) -> Strip:
    """`Visual.to_strips(widget, content, width, 1, style, pad=pad)[0]`, the same segments and styles.

    A figure's repaint went mostly to Textual's wrapping (splitting the line, dividing it at word boundaries, trimming
    each piece: two thirds of a figure's paint, measured), which a single line narrower than its cell never needs.
    Such a line is drawn here as Textual's formatter draws a left-aligned line; anything else (too wide, several
    lines, tabs, an alignment, line padding, a selection, a link, a component class's style) goes Textual's own way."""
    styles = widget.styles
    if (width <= 0 or content.cell_length > width or "\n" in content.plain or "\t" in content.plain
            or widget.text_selection is not None or styles.content_align != ("left", "top")
            or styles.text_align not in ("left", "start") or styles.line_pad
            or any(isinstance(span.style, str) and span.style.startswith(".") for span in content.spans)):
        return _textual(widget, content, width, style, pad)  # (a `.name` style is a component class of the widget's)
    segments, x = [], 0
    for text, text_style in content.render(style, end=""):  # styles parsed as the widget parses any but `.name`
        rich = (style + text_style).rich_style_with_offset(x, 0)  # the offset: a click finds its character
        if rich.meta and "@click" in rich.meta:  # a link takes the widget's link style: Textual's way
            return _textual(widget, content, width, style, pad)
        segments.append(Segment(text, rich))
        x += len(text)
    strip = Strip(segments, content.cell_length)
    return strip.extend_cell_length(width, (style + _NOT_REVERSED).rich_style) if pad else strip


def _textual(widget: Widget, content: Content, width: int, style: Style, pad: bool) -> Strip:
    strips = Visual.to_strips(widget, content, width, 1, style, pad=pad)
    return strips[0] if strips else Strip.blank(width if pad else 0, style.rich_style)
