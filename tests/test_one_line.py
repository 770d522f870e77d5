"""A figure's line drawn without Textual's wrapping is the line Textual draws: the same characters, colours and styles."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.content import Content
from textual.visual import Visual

from widgets.figure import Figure
from widgets.footer import KeysFooter
from widgets.lines import Cell, CellLines
from widgets.one_line import draw_line

# what the dashboard's figures and cells hold: theme variables, nested styles, wide and combining characters, escaped
# service text, an empty cell, and lines too wide for their cell (those go Textual's own way)
MARKUPS = [
    "", "req 0.61/s", "[$success]● ready[/]", "[$error]✖ not ready (db \\[primary] down)[/]",
    "[b]debt[/b] [$warning]▲ 42[/] of 40", "[dim]?[/]", "[reverse] LIVE [/] 12:04:05", "5xx [$error]0.66%▲[/]…",
    "漢字 wide ✓ and é", "[@click=app.quit]a link[/]", "tab\there", "two\nlines", "x" * 30,
]


class _Shown(App):
    CSS = "Figure { width: 20; } .err { color: $text-muted; text-style: italic; } CellLines { width: 20; }"

    def compose(self):
        yield Figure(id="plain")
        yield Figure(id="err", classes="err")
        yield CellLines(id="cells")
        yield KeysFooter(id="footer")  # a widget with component classes: a `.name` style is one of them


@pytest.mark.parametrize("pad", [False, True])
async def test_draw_line_is_textuals_line(pad):
    async with _Shown().run_test(size=(40, 6)) as pilot:
        shown = [(w, Content.from_markup(m)) for w in pilot.app.query("Figure, CellLines") for m in MARKUPS]
        shown.append((pilot.app.query_one(KeysFooter), Content.styled("q", ".keys-footer--key") + " Quit"))
        for widget, content in shown:
            for width in (20, 12, 0):
                want = Visual.to_strips(widget, content, width, 1, widget.visual_style, pad=pad)
                got = draw_line(widget, content, width, widget.visual_style, pad=pad)
                # Textual draws nothing 0 cells wide: an empty line here
                assert (list(got) if want else got.cell_length) == (list(want[0]) if want else 0), \
                    (widget.id, content.markup, width)


async def test_figures_and_cells_on_screen():
    """End to end: what a figure and a cell show, through the compositor, is their text in the widget's colours."""
    async with _Shown().run_test(size=(40, 6)) as pilot:
        app = pilot.app
        app.query_one("#plain", Figure).set("[$error]5xx 0.66%[/] ok")
        app.query_one("#err", Figure).set("x" * 30)  # wider than its cell: wrapped as a Static wraps it
        cells = app.query_one(CellLines)
        cells.set_rows([[Cell("[b]debt[/b] 42", usual=10), Cell("漢字", usual=6)]])
        await pilot.pause()
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert lines[0].startswith("5xx 0.66% ok ")
        assert lines[1] == "x" * 20 + " " * 20
        assert lines[2].startswith("debt 42   漢字")
        error = app.get_css_variables()["error"].lower()
        styles = [s.style for s in app.screen._compositor.render_strips()[0] if s.text.strip().startswith("5xx")]
        assert styles and styles[0].color.name.lower() == error
