"""A service's detail: every figure, each endpoint's health, its rules, and plots of its series over 1 h."""

from __future__ import annotations

import json

from rich.text import Text

from console.safe_text import markup_escape as escape
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from console.clock import hms
from console.metrics.panels import PERCENT
from console.state import ConsoleState
from widgets.fmt import age
from widgets.footer import KeysFooter
from widgets.header_bar import HeaderBar
from widgets.series_chart import SeriesChart

from widgets.bindings import HelpFirst, install

from .dirty_only import DirtyOnly
from .visibility import showing

PLOT_STEP = 60.0  # 1 h at 1 min resolution: the plots change once a minute


def _fmt_value(v, name: str = "", now: float | None = None) -> str:
    """A figure as a person reads it, as plain text (not markup: service data may contain brackets)."""
    if v is None:
        return "?"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)) and name.endswith(("_since", "_at")) and now is not None:
        return f"{hms(v)} UTC ({age(now - v)} ago)"
    if isinstance(v, (int, float)) and name in PERCENT:
        return f"{v * 100:.3g}%"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        text = json.dumps(v, default=str)
        return text if len(text) < 100 else text[:97] + "…"
    return str(v)


# bookkeeping beside the figures (console/metrics/panels.py): shown as marks on the figures they qualify
QUALIFIERS = frozenset({"filling", "window_data_seconds", "last_event_age_why", "last_event_age_source",
                        "stage_since_known"})


def figure_line(name: str, value, figures: dict, now: float) -> Text:
    """One figure of the detail box, with what qualifies it: a window still filling, where an age comes from, why
    a value is unknown, a stage that began before the console saw it."""
    text = _fmt_value(value, name, now)
    if name.endswith("_age") and isinstance(value, (int, float)):
        text = f"{age(value)}"
    if name == "stage_since" and value is not None and not figures.get("stage_since_known"):
        text = f"before {hms(value)} UTC (the stage held when the console started; at least {age(now - value)})"
    if value is None and figures.get(f"{name}_why"):
        text += f" ({figures[f'{name}_why']})"
    if figures.get(f"{name}_source") == "counters":
        text += " (from the counters: the service does not report it)"
    if name in (figures.get("filling") or {}):
        have, span = figures.get("window_data_seconds") or 0, figures["filling"][name]
        text += f" … window filling ({age(have)} of {age(span)}: reads low until full)"
    return Text.assemble((name.replace("_", " "), "bold"), " ", text)


class ServiceDetail(DirtyOnly, HelpFirst, Screen):
    SCOPES = ("detail",)
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
        yield KeysFooter()

    def on_mount(self) -> None:
        install(self, "detail")
        svc = self.app.session.state.services.get(self.service)
        if svc is not None:  # the service's mitigations work here too, and the footer says so
            install(self, f"panel:{svc.kind}", self.service, mitigations_only=True)
        self.query_one("#detail-figures").border_title = f"{self.service} · figures"
        self.query_one("#detail-endpoints").border_title = "endpoints"
        self.query_one("#detail-rules").border_title = "rules pending / firing"
        self.set_interval(PLOT_STEP, self._load_plots)
        self._load_plots()

    def _load_plots(self) -> None:
        self.run_worker(self._plots_worker(), group="plots", exclusive=True)

    async def _plots_worker(self) -> None:
        now, results = await self.app.plot_data([expr for _, expr in self.plots], 3600.0, PLOT_STEP)
        for i, points in enumerate(results):
            self.query_one(f"#plot-{i}", SeriesChart).set_series(points, now)

    def show(self, state: ConsoleState) -> None:
        if not showing(self) or not self.is_mounted:  # a state can arrive between push and compose
            return
        svc = state.services.get(self.service)
        if svc is None:
            return
        self.query_one(HeaderBar).show(state)
        figs = Text("\n").join(figure_line(k, v, svc.figures, state.ts)
                                for k, v in svc.figures.items() if k not in QUALIFIERS)
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
