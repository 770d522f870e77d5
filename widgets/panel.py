"""Base of the dashboard panels: focusable, titled, shows one service's error and age, dims stale values."""

from __future__ import annotations

from textual.containers import Vertical
from console.safe_text import markup_escape as escape

from console.state import ConsoleState, ServiceState

from .bindings import install
from .figure import Figure, set_subtitle
from . import fmt
from .fmt import age


class Panel(Vertical, can_focus=True):
    """A panel bound to one service (by name); subclasses fill their figures in `render_service`."""

    DEFAULT_CSS = """
    Panel { border: round $panel-lighten-2; padding: 0 1; height: auto; }
    Panel > .status { display: none; }
    Panel.-error > .status, Panel.-waiting > .status, Panel.-warning > .status { display: block; }
    Panel:focus-within, Panel:focus { border: round $accent; }
    Panel.-error { border: round $error; }
    Panel.-error .value { color: $text-muted; }
    """

    LINES = 8
    KEYS: str | None = None  # the registry scope of this panel's keys
    WINDOWED: frozenset[str] = frozenset()  # the windowed figures it shows (marked while their window fills)

    def __init__(self, service: str | None, title: str, **kw) -> None:
        super().__init__(**kw)
        self.service = service
        self.border_title = title
        self.lines = [Figure(classes="value") for _ in range(self.LINES)]
        self.status_line = Figure(classes="status")

    def compose(self):
        yield from self.lines
        yield self.status_line

    def on_mount(self) -> None:
        if self.KEYS:
            install(self, self.KEYS, self.service)

    def show(self, state: ConsoleState) -> None:
        svc = state.services.get(self.service) if self.service else None
        if self.service and svc is None:
            self.status_line.set("[dim]not configured[/]")
            return
        texts = self.render_service(svc, state) if svc else self.render_state(state)
        for fig, text in zip(self.lines, texts + [""] * (len(self.lines) - len(texts))):
            fig.set(text)
        self._show_health(svc, state)

    def _show_health(self, svc: ServiceState | None, state: ConsoleState) -> None:
        if svc is None:
            return
        err = svc.error
        self.set_class(bool(err), "-error")
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
