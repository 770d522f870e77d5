"""Base of the dashboard panels: focusable, titled, shows one service's error and age, dims stale values."""

from __future__ import annotations

from console.safe_text import markup_escape as escape

from console.state import ConsoleState, ServiceState

from textual.containers import Vertical

from .bindings import install
from .figure import set_subtitle
from . import fmt
from .fmt import age
from .lines import Cell, CellLines
from .paint_once import PaintOnce


class PanelLines(CellLines):
    """A panel's lines in one widget; `-muted` (the panel in error) dims the values, not the status line."""

    DEFAULT_CSS = "PanelLines > .panel--muted { color: $text-muted; }"
    COMPONENT_CLASSES = {"panel--muted"}

    def __init__(self, status: Cell, **kw) -> None:
        super().__init__(**kw)
        self.status = status

    def row_style(self, y: int):
        if self.has_class("-muted") and self.status not in self.row(y):
            return self.get_visual_style("panel--muted")
        return self.visual_style


class Panel(PaintOnce, Vertical, can_focus=True):
    """A panel bound to one service (by name); subclasses fill their figures in `render_service`.

    Its lines are one widget drawing them (widgets/lines.py): a figure that changes repaints its line alone, and a
    paint of the screen visits two widgets here (the bordered panel and its lines), not a widget per figure. The
    border stays on the container so a changed line is written from its text on, not from the border."""

    DEFAULT_CSS = """
    Panel { border: round $panel-lighten-2; padding: 0 1; height: auto; }
    Panel:focus-within, Panel:focus { border: round $accent; }
    Panel.-error { border: round $error; }
    """

    LINES = 8
    KEYS: str | None = None  # the registry scope of this panel's keys
    WINDOWED: frozenset[str] = frozenset()  # the windowed figures it shows (marked while their window fills)

    def __init__(self, service: str | None, title: str, **kw) -> None:
        super().__init__(**kw)
        self.service = service
        self.border_title = title
        self.lines = [Cell() for _ in range(self.LINES)]
        self.status_line = Cell()
        self.body = PanelLines(self.status_line)
        self._status_shown: bool | None = None

    def compose(self):
        yield self.body

    def value_rows(self) -> list[list[Cell]]:
        return [[c] for c in self.lines]

    def on_mount(self) -> None:
        if self.KEYS:
            install(self, self.KEYS, self.service)
        self._layout_rows()

    def _layout_rows(self) -> None:
        """The value lines, and the status line under them while the panel is in error, warned or waiting."""
        shown = self._status_wanted()
        self._status_shown = shown
        self.body.set_rows(self.value_rows() + ([[self.status_line]] if shown else []))

    def _status_wanted(self) -> bool:
        return any(self.has_class(c) for c in ("-error", "-waiting", "-warning"))

    def show(self, state: ConsoleState) -> None:
        svc = state.services.get(self.service) if self.service else None
        if self.service and svc is None:
            self.status_line.set("[dim]not configured[/]")
            return
        texts = self.render_service(svc, state) if svc else self.render_state(state)
        for fig, text in zip(self.lines, texts + [""] * (len(self.lines) - len(texts))):
            fig.set(text)
        self._show_health(svc, state)
        if self._status_wanted() != self._status_shown and self.is_mounted:
            self._layout_rows()

    def _show_health(self, svc: ServiceState | None, state: ConsoleState) -> None:
        if svc is None:
            return
        err = svc.error
        self.set_class(bool(err), "-error")
        self.body.set_class(bool(err), "-muted")  # the last good values, dimmed (a class change redraws them)
        self.set_class(not err and svc.last_ok is None, "-waiting")
        warning = None if err else svc.warning
        self.set_class(bool(warning), "-warning")
        if err:
            self.status_line.set(f"[$error]✖ error: {escape(err)}[/]")
            last = svc.failing_since_ok(state.ts)
            retry = svc.retry_in(state.ts)
            again = f" · retrying in {age(round(retry))}" if retry else ""
            set_subtitle(self, (f"last good {age(last)} ago" if last is not None else "no good reading yet") + again)
        elif warning:
            self.status_line.set(f"[$warning]▲ {escape(warning)}[/]")
            set_subtitle(self, "")
        elif svc.last_ok is None:
            self.status_line.set("[dim]waiting for first poll…[/]")
        else:
            self.status_line.set("")
            set_subtitle(self, " · ".join(n for n in self.notes(svc.figures or {}, state) if n))

    def notes(self, f: dict, state: ConsoleState) -> list[str]:
        """The subtitle's legend for marks on this panel's figures (none when nothing is marked)."""
        return [fmt.filling_note(f, self.WINDOWED)]

    def render_service(self, svc: ServiceState, state: ConsoleState) -> list[str]:
        raise NotImplementedError

    def render_state(self, state: ConsoleState) -> list[str]:
        return []
