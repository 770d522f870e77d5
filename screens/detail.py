"""A service's detail: every figure, each endpoint's health, its rules, and plots of its series over 1 h."""

from __future__ import annotations

import json

from rich.text import Text

from console.safe_text import markup_escape as escape
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.state import ConsoleState
from widgets.fmt import age
from widgets.header_bar import HeaderBar
from widgets.series_chart import SeriesChart

from . import keymap

PLOT_STEP = 60.0  # 1 h at 1 min resolution: the plots change once a minute


def _fmt_value(v) -> str:
    """A figure as plain text (not markup: service data may contain brackets)."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        text = json.dumps(v, default=str)
        return text if len(text) < 100 else text[:97] + "…"
    return "?" if v is None else str(v)


class ServiceDetail(Screen):
    BINDINGS = keymap.DETAIL
    DEFAULT_CSS = """
    ServiceDetail #detail-body { height: 1fr; }
    ServiceDetail #detail-left { width: 1fr; }
    ServiceDetail #detail-plots { width: 1fr; }
    ServiceDetail .box { border: round $panel-lighten-2; height: auto; padding: 0 1; }
    """

    def __init__(self, service: str, plots: list[tuple[str, str]], production: bool = False) -> None:
        super().__init__()
        self.service = service
        self.plots = plots
        self.production = production
        self._plot_at = None

    def compose(self):
        yield HeaderBar(production=self.production)
        with Horizontal(id="detail-body"):
            with VerticalScroll(id="detail-left"):
                yield Static(id="detail-figures", classes="box")
                yield Static(id="detail-endpoints", classes="box")
                yield Static(id="detail-rules", classes="box")
            with Vertical(id="detail-plots"):
                for i, (title, _) in enumerate(self.plots):
                    yield SeriesChart(f"{title} · last hour", id=f"plot-{i}")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-figures").border_title = f"{self.service} · figures"
        self.query_one("#detail-endpoints").border_title = "endpoints"
        self.query_one("#detail-rules").border_title = "rules pending / firing"
        self.set_interval(PLOT_STEP, self._load_plots)
        self._load_plots()

    def _load_plots(self) -> None:
        self.run_worker(self._plots_worker(), group="plots", exclusive=True)

    async def _plots_worker(self) -> None:
        now, results = await self.app.plot_data(self.service, self.plots, 3600.0, PLOT_STEP)
        for i, points in enumerate(results):
            self.query_one(f"#plot-{i}", SeriesChart).set_series(points, now)

    def show(self, state: ConsoleState) -> None:
        if not self.is_current:
            return
        svc = state.services.get(self.service)
        if svc is None:
            return
        self.query_one(HeaderBar).show(state)
        figs = Text("\n").join(Text.assemble((k, "bold"), " ", _fmt_value(v)) for k, v in svc.figures.items())
        self.query_one("#detail-figures", Static).update(figs if svc.figures else "[dim]waiting…[/]")
        eps = []
        for k, ep in svc.endpoints.items():
            a = age(state.ts - ep.last_ok) if ep.last_ok is not None else "never"
            mark = f"[$error]✖ {escape(ep.error)}[/]" if ep.error else "[$success]● ok[/]"
            eps.append(f"{k:18} {mark}  last good {a} ago")
        self.query_one("#detail-endpoints", Static).update("\n".join(eps) or "[dim]no poll yet[/]")
        rules = [r for r in state.active() if r.service == self.service]
        lines = [f"{r.severity} {r.state:8} {r.name}  value {escape(_fmt_value(r.value))}\n    [dim]{escape(r.expr)}[/]"
                 for r in rules]
        self.query_one("#detail-rules", Static).update("\n".join(lines) or "[$success]none[/]")
