"""What the console costs a slow link: figures repaint alone (no screen relayout), tables repaint the changed cell,
and low-bandwidth mode (over SSH or `--low-bandwidth`) shows the clock to the minute and says it is on."""

from __future__ import annotations

import re

import pytest
from textual.app import App
from textual.widget import Widget

from console.bandwidth import low_bandwidth
from console.cli import build_parser
from console.clock import VirtualClock
from console.session import Session
from screens.app import OpsApp
from tests.conftest import START, screen_text
from tests.conftest import advance_app as advance
from widgets.header_bar import HeaderBar
from widgets.keyed_table import KeyedTable


def make_app(**kw) -> OpsApp:
    return OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False, **kw)


def header(app) -> str:
    return screen_text(app).splitlines()[0]


@pytest.mark.asyncio
async def test_a_ticking_clock_and_changing_figures_do_not_relayout_the_screen(monkeypatch):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, pilot, 70)  # past start-up: every panel filled, the 1 min windows full
        screen = app.screen
        layouts = []
        refresh_layout = type(screen)._refresh_layout

        def counted(self, *a, **kw):
            if self is screen:
                layouts.append(1)
            return refresh_layout(self, *a, **kw)

        monkeypatch.setattr(type(screen), "_refresh_layout", counted)
        clocks = set()
        for _ in range(10):
            await advance(app, pilot, 1)
            clocks.add(re.search(r"\d\d:\d\d:\d\d UTC", header(app)).group())
        assert len(clocks) == 10  # the clock changed every second on screen...
        assert layouts == []  # ...and the screen was never laid out again for it (nor for any other figure)


@pytest.mark.asyncio
async def test_a_figure_that_outgrows_its_cell_widens_once_and_shows_its_whole_text():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 5)
        fig = app.screen.query_one("#hdr-clock")
        before = fig.relayouts
        fig.set("a much longer clock text than 23 cells UTC")
        await pilot.pause()
        assert "a much longer clock text than 23 cells UTC" in header(app)
        assert fig.relayouts == before + 1
        fig.set("back to short")
        fig.set("back to a short one")
        await pilot.pause()
        assert fig.relayouts == before + 2  # back to its usual width once, not per text
        assert "back to a short one" in header(app)


def refreshes(monkeypatch) -> list[tuple]:
    """Every repaint asked of any widget: (widget, regions) — no regions means the whole widget."""
    seen = []
    refresh = Widget.refresh

    def spy(self, *regions, **kw):
        seen.append((self, regions))
        return refresh(self, *regions, **kw)

    monkeypatch.setattr(Widget, "refresh", spy)
    return seen


@pytest.mark.asyncio
async def test_a_ticking_clock_repaints_itself_alone_and_an_unchanged_state_repaints_nothing(monkeypatch):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, pilot, 70)
        bar = app.screen.query_one(HeaderBar)
        seen = refreshes(monkeypatch)
        await advance(app, pilot, 1)
        # in the header, the clock's own small widget is repainted (whole); the line's other figures are not
        assert [(w, regions) for w, regions in seen if w is bar or bar in w.ancestors] == [(bar.clock, ())]
        assert re.search(r"\d\d:\d\d:\d\d UTC $", header(app))
        seen.clear()
        app.screen.show(app.session.state)  # the same state again: not one widget asks for a repaint
        await pilot.pause()
        assert seen == []


@pytest.mark.asyncio
async def test_a_changed_figure_repaints_only_its_line_and_shows_the_new_text(monkeypatch):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, pilot, 70)
        panel = app.screen.query_one("#conversion")
        seen = refreshes(monkeypatch)
        panel.lines[2].set("types [b]9/9[/] seen · [$error]▲ 1 missing[/]")  # the panel's own markup, drawn
        await pilot.pause()
        assert "│ types 9/9 seen · ▲ 1 missing " in screen_text(app)
        panel.lines[2].set("types 9/9 seen")
        await pilot.pause()
        assert "│ types 9/9 seen " in screen_text(app) and "1 missing" not in screen_text(app)
        mine = [regions for w, regions in seen if w is panel.body]
        assert len(mine) == 2 and all(len(r) == 1 and r[0].height == 1 and r[0].y == 2 for r in mine), mine
        assert [w for w, _ in seen if w is not panel.body] == []  # nothing else on the screen was repainted


class TableApp(App):
    def compose(self):
        yield KeyedTable(["name", "state"], id="t")


@pytest.mark.asyncio
async def test_a_changed_cell_repaints_that_cell_not_the_table(monkeypatch):
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:  # 30 rows in a small box: the table scrolls (a scrollbar)
        table = app.query_one(KeyedTable)
        rows = [(f"k{i}", (f"switch-{i}", "ON")) for i in range(30)]
        table.sync(rows)
        await pilot.pause()
        whole, parts = [], []
        refresh = Widget.refresh

        def spy(self, *regions, **kw):  # what reaches Textual: a whole-widget refresh repaints every row and the scrollbar
            if self is table:
                (parts if regions else whole).append(regions)
            return refresh(self, *regions, **kw)

        monkeypatch.setattr(Widget, "refresh", spy)
        rows[1] = ("k1", ("switch-1", "OFF"))
        table.sync(rows)
        await pilot.pause()
        assert table.get_cell("k1", "state").plain == "OFF"
        assert "OFF" in screen_text(app)
        assert whole == [] and len(parts) == 1 and parts[0][0].height == 1  # one line: the cell's


@pytest.mark.asyncio
async def test_low_bandwidth_shows_the_clock_to_the_minute_and_says_so():
    app = make_app(low_bandwidth=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 5)
        top = header(app)
        assert "low bandwidth" in top
        assert re.search(r"\d\d:\d\d UTC", top) and not re.search(r"\d\d:\d\d:\d\d UTC", top)
        assert app.animation_level == "none"
    normal = make_app()
    async with normal.run_test(size=(160, 48)) as pilot:
        await advance(normal, pilot, 5)
        top = header(normal)
        assert "low bandwidth" not in top and re.search(r"\d\d:\d\d:\d\d UTC", top)


@pytest.mark.asyncio
async def test_low_bandwidth_mark_fits_a_narrow_header():
    app = make_app(low_bandwidth=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await advance(app, pilot, 5)
        assert "low-bw" in header(app)


def test_low_bandwidth_is_on_over_ssh_unless_refused():
    assert low_bandwidth(None, {"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22"})
    assert low_bandwidth(None, {"SSH_TTY": "/dev/pts/3"})
    assert not low_bandwidth(None, {})
    assert not low_bandwidth(False, {"SSH_TTY": "/dev/pts/3"})  # --no-low-bandwidth
    assert low_bandwidth(True, {})
    p = build_parser()
    assert p.parse_args(["demo", "--low-bandwidth"]).low_bandwidth is True
    assert p.parse_args(["run", "--no-low-bandwidth"]).low_bandwidth is False
    assert p.parse_args(["replay", "x.rec", "--low-bandwidth"]).low_bandwidth is True
    assert p.parse_args(["demo"]).low_bandwidth is None


@pytest.mark.asyncio
async def test_the_first_poll_is_on_screen_before_the_first_tick_goes_by():
    """Start-up polls at once (while the dashboard mounts): its figures are drawn without waiting a tick."""
    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1))  # autorun: the live loop
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if re.search(r"buckets \d+/\d+", screen_text(app)):
                break
        assert re.search(r"buckets \d+/\d+", screen_text(app))  # a figure the simulator answered
        assert app.session.engine.clock.now() == START  # and the (virtual) clock has not moved a second


def cell_style(app, x: int, y: int):
    """The style of the character at (x, y) as the terminal gets it."""
    strip = app.screen._compositor.render_strips()[y]
    at = 0
    for seg in strip:
        if at <= x < at + len(seg.text):
            return seg.style
        at += len(seg.text)
    raise AssertionError(f"nothing at {x},{y}")


@pytest.mark.asyncio
async def test_a_widget_that_gives_its_last_lines_again_still_shows_every_change_of_its_look():
    """Unchanged widgets hand the compositor their last lines (widgets/paint_once.py): a focus, a class or a new
    text must still reach the screen."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, pilot, 10)
        debt = app.screen.query_one("#debt")
        corner = (debt.region.x, debt.region.y)
        await advance(app, pilot, 3)  # painted a few times unchanged: its lines are the remembered ones
        idle = cell_style(app, *corner)
        debt.focus()
        await pilot.pause()
        focused = cell_style(app, *corner)
        assert focused.color != idle.color  # the accent border of the focused panel
        app.screen.query_one("#incident-table").focus()
        await pilot.pause()
        assert cell_style(app, *corner).color == idle.color
        debt.set_class(True, "-error")
        await pilot.pause()
        assert cell_style(app, *corner).color not in (idle.color, focused.color)  # the error border
        debt.set_class(False, "-error")
        debt.lines[3].set("intake [b]changed[/] here")
        await pilot.pause()
        assert cell_style(app, *corner).color == idle.color
        assert "│ intake changed here" in screen_text(app)
