"""The data-pipeline strip: 5xx ratio, p95 latency, metadata queue fill, rate-limit hits, CPU on one line."""

from __future__ import annotations

from textual.containers import Horizontal

from console.safe_text import markup_escape as escape
from console.state import ConsoleState, ServiceState

from . import fmt
from .panel import Panel


class PipelineStrip(Panel):
    KEYS = "panel:data_pipeline"  # its mitigation keys: in the footer while this panel is focused
    """One line of small figures, each repainted alone when its text changes."""

    LINES = 8
    WINDOWED = frozenset({"error_ratio_5m", "p95_5m", "rate_limit_rate", "cpu", "req_rate"})
    DEFAULT_CSS = """
    PipelineStrip > .row { height: 1; }
    PipelineStrip > .row > Figure { width: auto; padding-right: 2; }
    """

    def compose(self):
        with Horizontal(classes="row"):
            yield from self.lines
        yield self.status_line

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
        fill = fmt.filling
        return [
            ready_txt,
            fill(f, "error_ratio_5m", f"5xx {fmt.over(f.get('error_ratio_5m'), f.get('error_ratio_threshold'), fmt.pct(f.get('error_ratio_5m'), 2))}"),
            fill(f, "p95_5m", f"p95 {fmt.over(f.get('p95_5m'), f.get('p95_threshold'), fmt.seconds(f.get('p95_5m')))}"),
            f"queue {fmt.over(f.get('queue_fill'), f.get('queue_threshold'), fmt.pct(f.get('queue_fill'), 0))}",
            fill(f, "rate_limit_rate", f"rate-limit {fmt.over(f.get('rate_limit_rate'), f.get('rate_limit_threshold'), fmt.rate(f.get('rate_limit_rate')))}"),
            fill(f, "cpu", f"cpu {fmt.over(f.get('cpu'), f.get('cpu_threshold'), fmt.pct(f.get('cpu'), 0))}"),
            fill(f, "req_rate", f"req {fmt.rate(f.get('req_rate'))}"),
            f"failed exec {fmt.num(len(failed)) if failed is not None else UNK}",
        ]
