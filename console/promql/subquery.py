"""Subqueries (`expr[range:step]`): the inner expression evaluated at each aligned step."""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from console.metrics.store import Series

from .rangefns import Window

if TYPE_CHECKING:
    from .eval import Evaluator
    from .parse import Subquery


def _go_div(a: int, b: int) -> int:
    """Go's integer division truncates toward zero (Python's // floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def steps(ev: Evaluator, sq: Subquery) -> tuple[int, int, range]:
    """(window start, end, the step instants): steps are multiples of the step in absolute time,
    the first one after the window's start (at or after it in 2.x, whose windows are closed)."""
    end = ev.at_ms(sq.at) - sq.offset_ms
    start = end - sq.range_ms
    step = sq.step_ms or ev.default_step_ms
    first = step * _go_div(start, step)
    if first < start or (ev.sem.left_open and first == start):
        first += step
    return start, end, range(first, end + 1, step)


# Steps are multiples of the step in absolute time, so consecutive ticks share all but the newest
# steps. A step this far behind the newest sample cannot change any more (samples arrive in
# order), so its result is kept for the next tick: 1 h at 1 m costs one step per minute, not 60.
FINAL_AFTER_MS = 60_000
_STEPS: WeakKeyDictionary = WeakKeyDictionary()  # store → {(subquery, dialect, step): {t: value}}


def _cacheable(sq: Subquery) -> bool:
    text = repr(sq.expr)
    return "('start', 0)" not in text and "('end', 0)" not in text  # those move with the query


def _keyed(value, scalar: bool) -> list[tuple[tuple, dict, float]]:
    """One step's result as (series key, labels, value): keys are computed once per step."""
    if scalar:
        return [((), {}, value)]
    return [(tuple(sorted(labels.items())), labels, v) for labels, v in value]


def _series(labels: dict, ts: list[int], vals: list[float]) -> Series:
    """A Series built in one go (its NaN and reset marks as Series.append would set them)."""
    s = Series(labels)
    s.ts = array("q", ts)
    s.vals = array("d", vals)
    s.nans = array("q", [i for i, v in enumerate(vals) if v != v])
    s.resets = array("q", [i for i in range(1, len(vals)) if vals[i] < vals[i - 1]])
    return s


def subquery_windows(ev: Evaluator, sq: Subquery) -> list[Window]:
    start, end, instants = steps(ev, sq)
    inner = type(ev)(ev.store, ev.t_ms, ev.sem, ev.query_range, ev.default_step_ms)
    scalar = sq.expr.type == "scalar"
    newest = ev.store.newest_ms
    cache = None
    if newest is not None and _cacheable(sq):
        per_store = _STEPS.setdefault(ev.store, {})
        cache = per_store.setdefault((sq, ev.sem.name, ev.default_step_ms), {})
        for old in [t for t in cache if t < instants.start]:
            del cache[old]
    points: dict[tuple, tuple[dict, list[int], list[float]]] = {}
    for t in instants:
        if cache is not None and t in cache:
            keyed = cache[t]
        else:
            inner.t_ms = t
            keyed = _keyed(inner.eval(sq.expr), scalar)
            if cache is not None and t <= newest - FINAL_AFTER_MS:
                cache[t] = keyed
        for key, labels, v in keyed:
            got = points.get(key)
            if got is None:
                got = points[key] = (labels, [], [])
            got[1].append(t)
            got[2].append(v)
    out = []
    for labels, ts, vals in points.values():
        out.append(Window(labels, _series(labels, ts, vals), 0, len(ts), start, end, sq.range_ms))
    return out
