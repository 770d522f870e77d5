"""Path tracker rollout: percent on the 0→5→15→35→60→100 stages, time at stage, rates vs thresholds."""

from __future__ import annotations

from console.state import ConsoleState, ServiceState

from . import fmt
from .panel import Panel


def stage_bar(percent: float | None, stages: list[int]) -> str:
    if percent is None:
        return "[dim]?[/]"
    parts = []
    for s in stages:
        if s == percent:
            parts.append(f"[bold $accent]▶{s}[/]")
        elif s < percent:
            parts.append(f"[$success]{s}[/]")
        else:
            parts.append(f"[dim]{s}[/]")
    text = " → ".join(parts) + " %"
    return text if percent in stages else text + f" [$warning]at {percent:g}% (off-stage)[/]"


def meter(percent: float | None, width: int = 24) -> str:
    if percent is None:
        return "[dim]?[/]"
    filled = round(max(0, min(100, percent)) / 100 * width)
    return f"[$accent]{'█' * filled}[/][dim]{'░' * (width - filled)}[/] {percent:g}%"


def stage_age(f: dict, now: float) -> str:
    """Time at the current stage, to the minute. When the console has not seen the stage begin (it held when the
    console started), only a lower bound is known: `≥4m`, or `?` in the first minute — never uptime as a fact."""
    since = f.get("stage_since")
    if since is None:
        return "[dim]?[/]"
    text = fmt.coarse_age(now - since)
    if f.get("stage_since_known"):
        return text
    return "[dim]?[/]" if text == "<1m" else f"[dim]≥{text}[/]"


class RolloutBar(Panel):
    KEYS = "panel:path_tracker"  # its mitigation keys: in the footer while this panel is focused
    LINES = 5
    WINDOWED = frozenset({"fallback_rate_local", "generate_error_rate_local", "steps_rate_5m"})

    def render_service(self, svc: ServiceState, state: ConsoleState) -> list[str]:
        f = svc.figures
        if not f:
            return []
        at_stage = stage_age(f, state.ts)
        enabled = "" if f.get("enabled") in (None, True) else " [$error]○ tracker disabled[/]"

        def rate_line(name, reported, local, threshold, key):
            rep = fmt.over(reported, threshold, fmt.pct(reported))
            loc = fmt.filling(f, key, fmt.over(local, threshold, fmt.pct(local)))
            limit = f" [dim](> {threshold * 100:g}%)[/]" if threshold is not None else ""
            return f"{name} {rep} svc · {loc} local{limit}"

        return [
            stage_bar(f.get("percent"), f.get("stages") or []) + f" · at stage {at_stage}" + enabled,
            meter(f.get("percent")) + f" · allow {fmt.num(f.get('allowlist'))} · deny {fmt.num(f.get('denylist'))}",
            rate_line("fallback 1h  ", f.get("fallback_rate_reported"), f.get("fallback_rate_local"),
                      f.get("fallback_threshold"), "fallback_rate_local"),
            rate_line("gen-error 15m", f.get("generate_error_rate_reported"), f.get("generate_error_rate_local"),
                      f.get("generate_error_threshold"), "generate_error_rate_local"),
            f"failed alerts 1h {fmt.over(f.get('failed_alerts_1h'), 0, fmt.num(f.get('failed_alerts_1h')))}"
            f" · steps {fmt.filling(f, 'steps_rate_5m', fmt.rate(f.get('steps_rate_5m')))}",
        ]

    def notes(self, f: dict, state: ConsoleState) -> list[str]:
        known = f.get("stage_since_known") or f.get("stage_since") is None
        # ≥: the stage already held when the console started (time at stage is a lower bound)
        return super().notes(f, state) + ([] if known else ["≥ held at start"])
