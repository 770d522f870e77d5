"""Number, age and status formatting shared by the panels: rounded to what is shown, '?' when unknown."""

from __future__ import annotations

import math

from console.durations import format_duration

UNKNOWN = "[dim]?[/]"


def known(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def pct(v, digits: int = 1) -> str:
    return f"{v * 100:.{digits}f}%" if known(v) else UNKNOWN


def num(v, digits: int = 0) -> str:
    if not known(v):
        return UNKNOWN
    return f"{v:,.{digits}f}"


def rate(v) -> str:
    """A rate to two significant figures: it changes when the rate does, not with every sample's noise."""
    if not known(v):
        return UNKNOWN
    if v == 0:
        return "0/s"
    return f"{float(f'{v:.2g}'):g}/s"


def age(seconds) -> str:
    return format_duration(seconds) if known(seconds) else UNKNOWN


def seconds(v) -> str:
    if not known(v):
        return UNKNOWN
    return f"{v * 1000:.0f}ms" if v < 1 else f"{v:.2f}s"


def over(value, threshold, text: str, above_is_bad: bool = True) -> str:
    """Mark a figure that crossed its threshold with colour *and* a symbol (never colour alone)."""
    if not known(value) or threshold is None:  # no rule, no marker
        return text
    bad = value > threshold if above_is_bad else value < threshold
    return f"[$error]▲ {text}[/]" if bad else text


SEVERITY_STYLE = {"P1": "bold $error", "P2": "$error", "P3": "$warning", "P4": "$secondary"}
STATUS_MARK = {
    "healthy": "[$success]● healthy[/]",
    "degraded": "[$warning]◐ degraded[/]",
    "stale": "[$error]○ stale[/]",
}


def status(s) -> str:
    return STATUS_MARK.get(s, UNKNOWN if s is None else f"[$warning]{s}[/]")


def on_off(enabled) -> str:
    if enabled is None:
        return UNKNOWN
    return "[$success]● ON [/]" if enabled else "[$error]○ OFF[/]"


def coarse_age(seconds) -> str:
    """An age to the minute (<1m, 5m00s → 5m, 2h14m): cells that show it change once a minute, not every second."""
    if not known(seconds):
        return UNKNOWN
    s = int(seconds)
    if s < 60:
        return "<1m"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return format_duration(s - s % 60)
    return f"{s // 86400}d"


def recent_age(seconds) -> str:
    """A recency to the resolution that matters (the runbook's line is 5 min): <10s, 10s steps, then minutes."""
    if not known(seconds):
        return UNKNOWN
    if seconds < 10:
        return "<10s"
    if seconds < 60:
        return f"{int(seconds) // 10 * 10}s"
    return coarse_age(seconds)
