"""A partial repaint that asks only the changed widgets for lines writes the same bytes as Textual's own."""

from __future__ import annotations

from textual._compositor import Compositor
from textual.app import App
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from screens.dirty_only import DirtyOnly
from widgets.figure import Figure


class _Board(DirtyOnly, Screen):
    """A clock on top, a table and a panel of figures side by side, a strip at the bottom: a tick's changes are
    far apart, as on the dashboard."""

    CSS = "#mid { height: 1fr; } DataTable { width: 1fr; } #figs { width: 1fr; border: round $primary; }"

    def compose(self):
        yield Figure("12:00:00", id="clock")
        with Horizontal(id="mid"):
            yield DataTable(id="table")
            with Vertical(id="figs"):
                for i in range(4):
                    yield Figure(f"[b]figure {i}[/] 0.61/s", id=f"f{i}")
        yield Figure("strip", id="strip")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("service", "switch", "state")
        for i in range(12):
            table.add_row(f"svc{i}", f"switch {i}", "[green]● ON[/]")


class _Dialog(ModalScreen):
    DEFAULT_CSS = "_Dialog { align: center middle; } _Dialog > Static { width: 20; height: 3; border: thick red; }"

    def compose(self):
        yield Static("Quit?")


class _App(App):
    def on_mount(self) -> None:
        self.push_screen(_Board())


def _bytes(update, app) -> str:
    return "" if update is None else update.render_segments(app.console)


async def test_partial_update_is_byte_for_byte_textuals():
    async with _App().run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        screen = pilot.app.screen
        table = screen.query_one(DataTable)
        asked = []
        render_lines = table.render_lines
        table.render_lines = lambda crop: asked.append(crop) or render_lines(crop)
        for texts in (("12:00:01", "[$error]figure 2 0.7/s[/]", "strip 1"), ("12:00:02", "figure 2 0.71/s", "s")):
            reference = Compositor()
            for compositor in (screen._compositor, reference):  # a layout just before the tick: maps made afresh
                compositor.reflow(screen, screen.size)
                compositor._dirty_regions.clear()  # a reflow marks the whole map: only this tick's changes
            for fig, text in zip(("clock", "f2", "strip"), texts):
                screen.query_one(f"#{fig}", Figure).set(text)
            dirty = {screen.query_one(f"#{fig}") for fig in ("clock", "f2", "strip")}
            screen._compositor.update_widgets(dirty)
            reference._dirty_regions.update(screen._compositor._dirty_regions)  # the widgets hand them over once
            asked.clear()
            ours = _bytes(screen._compositor.render_update(), pilot.app)
            assert not asked, "the table changed nothing, yet it was asked for its lines"
            textuals = _bytes(reference.render_update(), pilot.app)
            assert asked, "Textual's own compositor asks every widget in the box around the changes"
            assert ours == textuals and "12:00:0" in ours and "figure 2" in ours
            # and the next whole frame (a resize, a dialog's background) is still every widget's
            whole = [strip.text for strip in screen._compositor.render_strips()]
            assert whole == [strip.text for strip in reference.render_strips()] and "svc11" in "".join(whole)
            screen._dirty_widgets.clear()


async def test_a_dialog_over_it_still_shows_its_changes():
    """Under a modal dialog the screen keeps updating (its changes reach the frame the dialog is drawn over)."""
    async with _App().run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        board = pilot.app.screen
        pilot.app.push_screen(_Dialog())
        await pilot.pause()
        board.query_one("#clock", Figure).set("12:34:56")
        await pilot.pause()
        assert "12:34:56" in "\n".join(s.text for s in pilot.app.screen._compositor.render_strips())
