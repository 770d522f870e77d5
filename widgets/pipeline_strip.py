"""The data-pipeline strip: 5xx ratio, p95 latency, metadata queue fill, rate-limit hits, CPU on one line."""

from __future__ import annotations

from console.safe_text import markup_escape as escape
from console.state import ConsoleState, ServiceState

from . import fmt
from .figure import Figure
from .paint_once import OnceHorizontal
from .panel import Panel

# each figure's widest usual text (`5xx 0.66%…`, `p95 234ms…`, `rate-limit 0.0067/s…`, `req 0.61/s…`, ...), with the
# `…` a windowed figure carries while its window fills (5 min here): a value changing repaints its figure alone; a longer
# text (a ▲ threshold mark, a reason) widens it once. Sized without the `…`, a rate crossing 0.01 (`0.006` → `0.0047`)
# widened and narrowed its cell every few seconds, and each time the screen was laid out again (the kill-switch
# table's scrollbar repainted: ~1.3 KB each).
CELLS = (7, 10, 10, 10, 20, 8, 11, 14)


class PipelineStrip(Panel):
    KEYS = "panel:data_pipeline"  # its mitigation keys: in the footer while this panel is focused
    """One line of small figures, each repainted alone when its text changes.

    Each figure stays a widget of its own: Textual writes a change from the left edge of the widget holding it, so
    one widget for the whole line would rewrite the line up to the figure that changed (measured: twice the bytes)."""

    LINES = 8
    WINDOWED = frozenset({"error_ratio_5m", "p95_5m", "rate_limit_rate", "cpu", "req_rate"})
    DEFAULT_CSS = """
    PipelineStrip > .row { height: 1; }
    PipelineStrip > .row > Figure { width: auto; padding-right: 2; }
    PipelineStrip.-error .value { color: $text-muted; }
    """

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.lines = [Figure(classes="value", cells=n) for n in CELLS]

    def compose(self):
        with OnceHorizontal(classes="row"):
            yield from self.lines
        yield self.body

    def value_rows(self) -> list:
        return []  # the figures are in the row above; the lines widget holds the status line alone

    def render_service(self, svc: ServiceState, state: ConsoleState) -> list[str]:
        f = svc.figures
        if not f:
            return []
        ready = f.get("ready")
        ready_txt = UNK = "[dim]?[/]"
        if ready is True:
            ready_txt = "[$success]● ready[/]"
        elif ready is False:
            reason = f.get("ready_reason") or "?"
            reason = reason if len(reason) <= 24 else reason[:23] + "…"  # in full on the detail screen
            ready_txt = f"[$error]✖ not ready ({escape(reason)})[/]"
        failed = f.get("failed_executions")

        def fig(label: str, key: str, threshold: str | None, text: str) -> str:
            """`label value`, marked over its threshold and while its window fills."""
            return fmt.filling(f, key, f"{label} {fmt.over(f.get(key), f.get(threshold) if threshold else None, text)}")

        return [
            ready_txt,
            fig("5xx", "error_ratio_5m", "error_ratio_threshold", fmt.pct(f.get("error_ratio_5m"), 2)),
            fig("p95", "p95_5m", "p95_threshold", fmt.seconds(f.get("p95_5m"))),
            fig("queue", "queue_fill", "queue_threshold", fmt.pct(f.get("queue_fill"), 0)),
            fig("rate-limit", "rate_limit_rate", "rate_limit_threshold", fmt.rate(f.get("rate_limit_rate"))),
            fig("cpu", "cpu", "cpu_threshold", fmt.pct(f.get("cpu"), 0)),
            fig("req", "req_rate", None, fmt.rate(f.get("req_rate"))),
            f"failed exec {fmt.num(len(failed)) if failed is not None else UNK}",
        ]
