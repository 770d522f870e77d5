"""Date functions (year, month, hour, ...): each sample's value read as Unix seconds, in UTC."""

from __future__ import annotations

import calendar
import math
from datetime import datetime, timezone

from .semantics import Semantics, drop_name

Vector = list[tuple[dict[str, str], float]]


def _part(name: str, d: datetime) -> float:
    if name == "year":
        return float(d.year)
    if name == "month":
        return float(d.month)
    if name == "day_of_month":
        return float(d.day)
    if name == "day_of_year":
        return float(d.timetuple().tm_yday)
    if name == "day_of_week":
        return float((d.weekday() + 1) % 7)  # Go: Sunday is 0
    if name == "hour":
        return float(d.hour)
    if name == "minute":
        return float(d.minute)
    return float(calendar.monthrange(d.year, d.month)[1])  # days_in_month


def date_fn(sem: Semantics, name: str, vec: Vector) -> Vector:
    out = []
    for labels, v in vec:
        if not math.isfinite(v):
            out.append((drop_name(sem, labels), math.nan))
            continue
        # time.Unix(int64(v), 0): the fraction is truncated toward zero.
        d = datetime.fromtimestamp(int(v), tz=timezone.utc)
        out.append((drop_name(sem, labels), _part(name, d)))
    return out
