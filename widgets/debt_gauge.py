"""Converge verification debt: the 0–100 gauge coloured by band, its components, trend, intake vs recommended."""

from __future__ import annotations

from console.state import ConsoleState, ServiceState

from . import fmt
from .panel import Panel

BAND_STYLE = {"green": "$success", "yellow": "$warning", "red": "$error"}
BAND_MARK = {"green": "●", "yellow": "◐", "red": "▲"}
SPARK = "▁▂▃▄▅▆▇█"


def gauge(score: float | None, band: str | None, width: int = 32, edges: tuple = (30, 70)) -> str:
    if score is None:
        return f"[dim]{'·' * width}[/] ?"
    filled = max(0, min(width, round(score / 100 * width)))
    style = BAND_STYLE.get(band or "", "$foreground")
    # band edges (the debt rules' thresholds) marked so the reader sees how far to the next band
    marks = {round(e / 100 * width) for e in edges if e is not None}
    cells = ["█" if i < filled else ("┆" if i in marks else "·") for i in range(width)]
    return f"[{style}]{''.join(cells[:filled])}[/][dim]{''.join(cells[filled:])}[/] [{style}]{score:.0f} {BAND_MARK.get(band or '', '')} {band}[/]"


def sparkline(points: list[tuple[float, float]], width: int = 48) -> str:
    """A 1-line trend (0–100 scale, so bands compare across time)."""
    vals = [v for _, v in points][-width:]
    if not vals:
        return "[dim]collecting…[/]"
    return "".join(SPARK[min(7, max(0, int(v / 100 * 8)))] for v in vals)


class DebtGauge(Panel):
    KEYS = "panel:converge"  # its mitigation keys: in the footer while this panel is focused
    LINES = 6

    def render_service(self, svc: ServiceState, state: ConsoleState) -> list[str]:
        f = svc.figures
        if not f:
            return []
        comps = f.get("components") or {}
        short = {"staleness": "stale", "queue_pressure": "queue", "review_backlog": "review",
                 "conflict_pressure": "conflict", "retry_pressure": "retry"}
        comp_txt = " ".join(f"{short.get(k, k)} {fmt.num(v, 2)}" for k, v in comps.items())
        mode, rec = f.get("effective_mode"), f.get("recommended_mode")
        intake = f"intake {mode or '?'}"
        if f.get("intake_mode") and f.get("intake_mode") != mode:
            intake += f" (set {f['intake_mode']})"
        intake += f" · runbook says {rec or '?'}"
        if f.get("intake_mismatch"):
            intake = f"[$error]▲ {intake} · MISMATCH[/]"
        r = f.get("reviews") or {}
        s = f.get("security") or {}
        trend = state.trends.get(f"{svc.name}:debt", [])
        ready = f.get("ready")
        ready_txt = "" if ready in (None, True) else f" [$error]✖ not ready[/]"
        breaches = r.get("sla_breaches")
        return [
            gauge(f.get("debt_score"), f.get("debt_band"), edges=(f.get("debt_yellow"), f.get("debt_red"))) + ready_txt,
            f"[dim]1h[/] {sparkline(trend)}",
            comp_txt,
            intake,
            f"reviews {fmt.num(r.get('pending'))} pending · {fmt.num(r.get('assigned'))} assigned · "
            f"{fmt.over(breaches, 0, fmt.num(breaches) + ' SLA breach')}",
            f"security {fmt.over(s.get('critical'), 0, fmt.num(s.get('critical')) + ' crit')} · {fmt.num(s.get('high'))} high"
            f" · {fmt.num(s.get('medium'))} med · {fmt.num(s.get('low'))} low",
        ]
