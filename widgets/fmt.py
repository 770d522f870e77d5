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


def filling(f: dict, key: str, text: str) -> str:
    """A figure whose window is not full yet (just started, or back to local scraping): dimmed with a trailing …,
    as the debt trend says "collecting…" — it reads low until the window holds its whole span."""
    return f"[dim]{text}…[/]" if key in (f.get("filling") or {}) else text


def span(seconds: float) -> str:
    """A window's span as PromQL writes it: 1m, 5m, 15m, 1h."""
    s = int(seconds)
    return f"{s // 3600}h" if s % 3600 == 0 else f"{s // 60}m" if s % 60 == 0 else f"{s}s"


def filling_note(f: dict, shown) -> str:
    """The panel's legend for `filling`, over the figures it shows: how much data the windows hold, against the
    longest of those still filling ("" when none is)."""
    fill = [w for k, w in (f.get("filling") or {}).items() if k in shown]
    if not fill:
        return ""
    return f"… filling: {coarse_age(f.get('window_data_seconds'))} of {span(max(fill))}"
