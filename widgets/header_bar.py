"""The top line: environment (red when production), live/replay/read-only, alert counts, the data's UTC time."""

from __future__ import annotations

from datetime import datetime, timezone

from textual.containers import Horizontal
from console.safe_text import markup_escape as escape

from console.clock import hms
from console.durations import format_duration
from console.state import ConsoleState

from .figure import Figure
from .lines import Cell, CellLines, cells
from .paint_once import PaintOnce


CLOCK_CELLS = len("2026-12-01 15:34:10 UTC")


class HeaderBar(PaintOnce, Horizontal):
    """The line's figures in one widget (widgets/lines.py), the clock in its own small one: Textual writes a change
    from the left edge of the widget that holds it, so the ticking clock must be a widget of its own to cost its
    own cells and nothing more."""

    DEFAULT_CSS = """
    HeaderBar { height: 1; background: $panel; }
    HeaderBar > CellLines { width: 1fr; }
    HeaderBar #hdr-clock { dock: right; width: auto; padding: 0 1; }
    """

    def __init__(self, production: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.production = production
        self.ident = Cell(pad=(1, 1), id="hdr-ident")
        self.alerts = Cell(pad=(1, 1), id="hdr-alerts")
        self.backend = Cell(pad=(1, 1), id="hdr-backend")  # shown once [prometheus] is configured
        self.sharing = Cell(pad=(1, 1), id="hdr-sharing")  # shown once [alertmanager] send is on
        self.figures = CellLines()
        self.clock = Figure(id="hdr-clock", cells=CLOCK_CELLS)  # fixed: ticking repaints it alone
        self._shown: tuple | None = None

    def compose(self):
        yield self.clock
        yield self.figures

    def on_mount(self) -> None:
        self._place_cells(False, False)

    def _place_cells(self, backend: bool, sharing: bool) -> None:
        if self._shown != (backend, sharing):
            self._shown = (backend, sharing)
            self.figures.set_rows([[self.ident, self.alerts, *([self.backend] if backend else []),
                                    *([self.sharing] if sharing else [])]])

    def show(self, state: ConsoleState) -> None:
        env = f"[bold reverse $error] {state.environment} [/]" if self.production else f"[bold]{state.environment}[/]"
        mode = "[bold $warning]REPLAY[/]" if state.mode == "replay" else "[$success]LIVE[/]"
        if state.rewind is not None:
            mode = rewind_text(state.rewind)
        if state.link:  # an attached viewer that lost its collector: not live any more
            mode = f"[bold reverse $error] {escape(state.link.upper())} [/]"
            if state.rewind is not None:  # and still showing the past it was rewound to
                mode += f" [bold reverse $warning] REWIND {behind_text(state.rewind)} [/]"
        ro = "  [$warning]READ-ONLY[/]" if state.read_only else ""
        low = getattr(self.app, "low_bandwidth", False)
        firing = len(state.firing)
        pending = len(state.active()) - firing
        alerts = ((f"[bold $error]● {firing} firing[/]" if firing else "[$success]● 0 firing[/]")
                  + (f"  [$warning]◌ {pending} pending[/]" if pending else "") + engine_text(state))
        scen = f"  scenario [italic]{escape(state.scenario)}[/]" if state.scenario else ""
        # the richest line that fits beside the alert counts and the clock: the scenario goes first, then the
        # program's name and the long low-bandwidth mark (the alert counts are never cut)
        room = (self.size.width or 10_000) - cells(alerts) - CLOCK_CELLS - 6
        watch = room_text(state)
        # last, when narrow: the rewind said short (how far back, how many fire now), the watchers left out
        short = mode if state.rewind is None or state.link else rewind_text(state.rewind, short=True)
        for name, lowbw, sc, md, wt in (("[b]opsconsole[/]  ", "⇣ low bandwidth", scen, mode, watch),
                                        ("[b]opsconsole[/]  ", "⇣ low bandwidth", "", mode, watch),
                                        ("", "⇣ low-bw", "", mode, watch), ("", "⇣ low-bw", "", short, "")):
            mark = f"  [$accent]{lowbw}[/]" if low else ""  # said on screen: a clock to the minute is the mode
            ident = f"{name}env {env}  {md}{ro}{mark}{wt}{sc}"
            if cells(ident) <= room:
                break
        self.ident.set(ident)
        self.alerts.set(alerts)
        was = self._shown or (False, False)
        self._place_cells(was[0] or state.backend is not None, was[1] or state.sharing is not None)
        if state.backend is not None:
            self.backend.set(backend_text(state))  # unchanged values do not repaint
        if state.sharing is not None:
            self.sharing.set(sharing_text(state))
        t = datetime.fromtimestamp(state.ts, tz=timezone.utc)
        self.clock.set(t.strftime("%Y-%m-%d %H:%M UTC" if low else "%Y-%m-%d %H:%M:%S UTC"))


def room_text(state: ConsoleState) -> str:
    """War room (`serve` / `attach`): how many viewers watch the collector."""
    if state.viewers is None or state.link:
        return ""
    return f"  [$accent]◉ {state.viewers} watching[/]"


ENGINE_ERROR_SHOWN = 300.0  # seconds a failed tick or task stays in the header after its last failure


def engine_text(state: ConsoleState) -> str:
    """A tick or a background task that raised: shown, never swallowed (the log in the data dir has the rest)."""
    if not state.engine_error or state.engine_error_at is None or state.ts - state.engine_error_at > ENGINE_ERROR_SHOWN:
        return ""
    return f"  [bold $error]✖ engine {escape(state.engine_error[:60])} at {hms(state.engine_error_at)}[/]"


def rewind_text(rw, short: bool = False) -> str:
    """`REWIND −12m` and what fires now: a page that comes in while rewound is never hidden."""
    behind = behind_text(rw)
    if short:  # a narrow terminal: the count of what fires now, without the names and the hint
        n = len(rw.firing_now)
        return f"[bold reverse $warning] REWIND {behind} [/] " + (
            f"[bold $error]now ● {n} firing[/]" if n else "[$success]now ● 0 firing[/]")
    now = ", ".join(escape(n) for n in rw.firing_now[:3]) + (" …" if len(rw.firing_now) > 3 else "")
    fires = f"[bold $error]now ● {len(rw.firing_now)} firing: {now}[/]" if rw.firing_now else "[$success]now ● 0 firing[/]"
    return f"[bold reverse $warning] REWIND {behind} [/] {fires} [dim](End: live)[/]"


def behind_text(rw) -> str:
    """How far back a rewound display is: −12m, −45s, −1m05s."""
    text = format_duration(rw.behind)
    return "−" + (text[:-3] if text.endswith("m00s") else text)


def backend_text(state: ConsoleState) -> str:
    """Where the metrics come from, when that is a Prometheus server: its status in a word and a symbol."""
    b = state.backend
    if b is None:
        return ""
    why = escape((b.error or "")[:48])
    if b.status == "ok":
        return f"[$success]◆ Prometheus[/] {escape(b.version or '')}".rstrip()
    if b.status == "recorded":  # a replay: rule values and figures are the server's answers, as recorded
        return f"[$accent]◆ Prometheus {escape(b.version or '')} · its recorded answers[/]" + \
            (f" [$warning]({why})[/]" if b.error else "")
    if b.status == "fallback":
        since = f" since {hms(b.since)}" if b.since is not None else ""  # its windows fill from then on
        return f"[bold $warning]▲ LOCAL FALLBACK{since}[/] [$warning]Prometheus {why}[/]"
    if b.status == "down":
        return f"[bold $error]✖ Prometheus {why}[/] (no fallback)"
    return "[dim]◇ Prometheus: connecting…[/]"


def sharing_text(state: ConsoleState) -> str:
    """How this console's alerts reach Alertmanager: failing (and why), dropped alerts, or fine."""
    s = state.sharing
    if s is None:
        return ""
    dropped = f"  [bold $error]{s.dropped} dropped[/]" if s.dropped else ""
    queued = f" {s.queued} queued" if s.queued else ""
    if s.error:
        return (f"[bold $error]✖ Alertmanager: {s.failures} send failures[/] [$error]{escape(s.error[:48])}[/]"
                f"{queued}{dropped}")
    if s.last_ok is None:
        return f"[dim]◇ Alertmanager: nothing sent yet[/]{queued}{dropped}"
    failed = f" [$warning]({s.failures} failed before)[/]" if s.failures else ""
    return f"[$success]◆ Alertmanager[/] {s.sent} sent{failed}{queued}{dropped}"
