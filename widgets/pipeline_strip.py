"""The data-pipeline strip: 5xx ratio, p95 latency, metadata queue fill, rate-limit hits, CPU on one line."""

from __future__ import annotations

from console.safe_text import markup_escape as escape
from console.state import ConsoleState, ServiceState

from . import fmt
from .lines import Cell
from .panel import Panel

# each figure's widest usual text (`5xx 0.66%…`, `p95 234ms…`, `rate-limit 0.0067/s…`, `req 0.61/s…`, ...), with the
# `…` a windowed figure carries while its window fills (5 min here): a value changing repaints its figure alone; a longer
# text (a ▲ threshold mark, a reason) widens it (and moves the figures after it on its line). Sized without the `…`, a
# rate crossing 0.01 (`0.006` → `0.0047`) widened and narrowed its cell every few seconds.
CELLS = (7, 10, 10, 10, 20, 8, 11, 14)
GAP = 2  # cells after each figure
NARROW = 110  # the dashboard's narrow width (screens/dashboard.py): the eight figures in two rows of four


class PipelineStrip(Panel):
    KEYS = "panel:data_pipeline"  # its mitigation keys: in the footer while this panel is focused
    """One line of small figures (two rows of four when narrow), each repainted alone when its text changes."""

    LINES = 8
    WINDOWED = frozenset({"error_ratio_5m", "p95_5m", "rate_limit_rate", "cpu", "req_rate"})

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.lines = [Cell(usual=n, pad=(0, GAP)) for n in CELLS]
        self._narrow: bool | None = None

    def value_rows(self) -> list[list[Cell]]:
        self._narrow = self.outer_size.width < NARROW
        return [self.lines[:4], self.lines[4:]] if self._narrow else [self.lines]

    def on_resize(self) -> None:
        if (self.outer_size.width < NARROW) != self._narrow:
            self._layout_rows()

    def _place(self, row: list[Cell]) -> None:
        if not self._narrow or self.status_line in row:
            return super()._place(row)
        # narrow: a grid of four columns, each as wide as the widest figure in it (both rows line up)
        x = 0
        for i, cell in enumerate(row):
            cell.x = x
            cell.width = max(self.lines[i].natural(), self.lines[i + 4].natural())
            x += cell.width

    def cell_changed(self, cell: Cell) -> None:
        if self._narrow and cell in self.lines:
            i = self.lines.index(cell) % 4
            width = max(self.lines[i].natural(), self.lines[i + 4].natural())
            if width != cell.width:  # its column widens or narrows: both rows move
                for y in range(2):
                    self._place(self._rows[y])
                    for c in self._rows[y]:
                        c.strip = None
                    self._line_strips.pop(y, None)
                self.refresh()
                return
        super().cell_changed(cell)

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
