"""Range-vector functions (rate, increase, *_over_time, ...), after promql/functions.go."""

from __future__ import annotations

import math
from dataclasses import dataclass

from console.metrics.store import Series, is_stale

from . import gomath
from .histogram import quantile
from .semantics import Semantics, kahan_inc


@dataclass(slots=True)
class Window:
    """The samples of one series inside a range selector's window: positions [a, b)."""

    labels: dict[str, str]
    series: Series
    a: int
    b: int
    start_ms: int  # range start (exclusive in 3.x, inclusive in 2.x)
    end_ms: int
    range_ms: int

    def clean(self) -> bool:
        """No NaN in the window, so no stale marker either: arrays can be used as they are."""
        return not self.series.has_nan(self.a, self.b)

    def points(self) -> tuple[list[int], list[float]]:
        """Timestamps and values with staleness markers removed (range vectors never see them)."""
        ts, vals = self.series.ts[self.a:self.b], self.series.vals[self.a:self.b]
        if self.clean():
            return list(ts), list(vals)
        keep = [i for i, v in enumerate(vals) if not is_stale(v)]
        return [ts[i] for i in keep], [vals[i] for i in keep]

    def count(self) -> int:
        return self.b - self.a if self.clean() else len(self.points()[0])


def _range_seconds(range_ms: int) -> float:
    # time.Duration.Seconds(): whole seconds plus the nanosecond remainder / 1e9.
    sec, rem = divmod(range_ms, 1000)
    return sec + (rem * 1_000_000) / 1e9


def _counter_delta(w: Window, is_counter: bool) -> tuple[int, int, int, float, float] | None:
    """(n, first_t, last_t, first_v, last - first + reset corrections), or None below 2 samples."""
    s = w.series
    if w.clean():
        n = w.b - w.a
        if n < 2:
            return None
        vals = s.vals
        first_v = vals[w.a]
        result = vals[w.b - 1] - first_v
        if is_counter:  # same order of additions as Prometheus' loop, so the same rounding
            for r in s.reset_positions(w.a, w.b):
                result += vals[r - 1]
        return n, s.ts[w.a], s.ts[w.b - 1], first_v, result
    ts, vals = w.points()
    if len(vals) < 2:
        return None
    result = vals[-1] - vals[0]
    if is_counter:
        for prev, cur in zip(vals, vals[1:]):
            if cur < prev:
                result += prev
    return len(vals), ts[0], ts[-1], vals[0], result


def extrapolated_rate(sem: Semantics, w: Window, is_counter: bool, is_rate: bool) -> float | None:
    """rate/increase/delta with Prometheus' edge extrapolation (extrapolatedRate)."""
    got = _counter_delta(w, is_counter)
    if got is None:
        return None
    n, first_t, last_t, first_v, result = got
    to_start = (first_t - w.start_ms) / 1000
    to_end = (w.end_ms - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    avg = sampled / (n - 1)
    threshold = avg * 1.1
    if sem.zero_floor_first:
        # Prometheus < 2.51: the zero point shortens durationToStart before the threshold test.
        if is_counter and result > 0 and first_v >= 0:
            to_zero = sampled * (first_v / result)
            if to_zero < to_start:
                to_start = to_zero
        interval = sampled
        interval += to_start if to_start < threshold else avg / 2
        interval += to_end if to_end < threshold else avg / 2
        factor = interval / sampled
    else:
        if to_start >= threshold:
            to_start = avg / 2
        if is_counter:
            to_zero = to_start
            if result > 0 and first_v >= 0:
                to_zero = sampled * (first_v / result)
            if to_zero < to_start:
                to_start = to_zero
        if to_end >= threshold:
            to_end = avg / 2
        factor = (sampled + to_start + to_end) / sampled
    if is_rate:
        factor /= _range_seconds(w.range_ms)
    return result * factor


def instant_value(w: Window, is_rate: bool) -> float | None:
    """irate/idelta from the last two samples (instantValue)."""
    ts, vals = w.series.ts, w.series.vals
    if w.clean():
        if w.b - w.a < 2:
            return None
        (t0, t1), (v0, v1) = ts[w.b - 2:w.b], vals[w.b - 2:w.b]
    else:
        pts, pvals = w.points()
        if len(pvals) < 2:
            return None
        t0, t1, v0, v1 = pts[-2], pts[-1], pvals[-2], pvals[-1]
    interval = t1 - t0
    if interval == 0:
        return None
    result = v1 if is_rate and v1 < v0 else v1 - v0  # a counter reset: the new value is the increase
    if is_rate:
        result /= interval / 1000
    return result


def _values(w: Window) -> list[float]:
    if w.clean():
        return list(w.series.vals[w.a:w.b])
    return w.points()[1]


def sum_over_time(sem: Semantics, vals: list[float]) -> float:
    s = c = 0.0
    for v in vals:
        s, c = kahan_inc(sem, v, s, c)
    return s if math.isinf(s) else s + c


def avg_over_time(sem: Semantics, vals: list[float]) -> float:
    if not sem.direct_mean_over_time:
        return _incremental_mean(sem, vals)
    # 3.x: direct mean with Kahan summation, incremental only once the sum would overflow.
    s, count, mean, c, incremental = vals[0], 1.0, 0.0, 0.0, False
    for i, v in enumerate(vals[1:]):
        count = float(i + 2)
        if not incremental:
            new_s, new_c = kahan_inc(sem, v, s, c)
            if not math.isinf(new_s):
                s, c = new_s, new_c
                continue
            incremental = True
            mean = s / (count - 1)
            c /= count - 1
        q = (count - 1) / count
        mean, c = kahan_inc(sem, v / count, q * mean, q * c)
    if incremental:
        return mean + c
    return s / count + c / count


def _incremental_mean(sem: Semantics, vals: list[float]) -> float:
    mean = count = c = 0.0
    for v in vals:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue  # same-signed infinities: the mean is right already
            if not math.isinf(v) and not math.isnan(v):
                continue  # Inf - Inf would turn the mean into NaN
        mean, c = kahan_inc(sem, v / count - mean / count, mean, c)
    return mean if math.isinf(mean) else mean + c


def variance_over_time(sem: Semantics, vals: list[float]) -> float:
    count = mean = c_mean = aux = c_aux = 0.0
    for v in vals:
        count += 1
        delta = v - (mean + c_mean)
        mean, c_mean = kahan_inc(sem, delta / count, mean, c_mean)
        aux, c_aux = kahan_inc(sem, delta * (v - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


def go_max_over(vals: list[float]) -> float:
    best = vals[0]
    for v in vals:
        if v > best or best != best:
            best = v
    return best


def go_min_over(vals: list[float]) -> float:
    best = vals[0]
    for v in vals:
        if v < best or best != best:
            best = v
    return best


def _resets(vals: list[float]) -> float:
    return float(sum(1 for prev, cur in zip(vals, vals[1:]) if cur < prev))


def _changes(vals: list[float]) -> float:
    return float(sum(1 for prev, cur in zip(vals, vals[1:])
                     if cur != prev and not (cur != cur and prev != prev)))


def linear_regression(sem: Semantics, ts: list[int], vals: list[float],
                      intercept_ms: int) -> tuple[float, float]:
    """(slope, intercept) by least squares with Kahan sums (linearRegression); 3.x also
    answers a constant series exactly (slope 0), 2.42 did not."""
    n = sum_x = sum_y = sum_xy = sum_x2 = 0.0
    c_x = c_y = c_xy = c_x2 = 0.0
    init_y, const_y = vals[0], sem.kahan_aggregation
    for i, (t, v) in enumerate(zip(ts, vals)):
        if const_y and i > 0 and v != init_y:
            const_y = False
        n += 1.0
        x = (t - intercept_ms) / 1e3
        sum_x, c_x = kahan_inc(sem, x, sum_x, c_x)
        sum_y, c_y = kahan_inc(sem, v, sum_y, c_y)
        sum_xy, c_xy = kahan_inc(sem, x * v, sum_xy, c_xy)
        sum_x2, c_x2 = kahan_inc(sem, x * x, sum_x2, c_x2)
    if const_y:
        if math.isinf(init_y):
            return math.nan, math.nan
        return 0.0, init_y
    sum_x += c_x
    sum_y += c_y
    sum_xy += c_xy
    sum_x2 += c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    slope = gomath.div(cov_xy, var_x)
    return slope, sum_y / n - slope * sum_x / n


def _mad(vals: list[float]) -> float:
    median = quantile(0.5, vals)
    return quantile(0.5, [abs(v - median) for v in vals])


def _trend(i: int, tf: float, s0: float, s1: float, b: float) -> float:
    if i == 0:
        return b
    return tf * (s1 - s0) + (1 - tf) * b


def double_exponential_smoothing(vals: list[float], sf: float, tf: float) -> float | None:
    if len(vals) < 2:
        return None
    s0, s1, b = 0.0, vals[0], vals[1] - vals[0]
    for i in range(1, len(vals)):
        x = sf * vals[i]
        b = _trend(i - 1, tf, s0, s1, b)
        y = (1 - sf) * (s1 + b)
        s0, s1 = s1, x + y
    return s1


def _ts_of(func: str, ts: list[int], vals: list[float]) -> float:
    if func == "ts_of_first_over_time":
        return ts[0] / 1000
    if func == "ts_of_last_over_time":
        return ts[-1] / 1000
    best = 0
    for i, v in enumerate(vals):  # the latest of equal extremes, as upstream
        b = vals[best]
        if func == "ts_of_min_over_time":
            if v <= b or b != b:
                best = i
        elif v >= b or b != b:
            best = i
    return ts[best] / 1000


def apply(sem: Semantics, func: str, w: Window, param=None, t_ms: int = 0) -> float | None:
    """The value of range function `func` over one window, or None for no output sample."""
    # The functions rules use most come first: this runs once per series per rule per tick.
    if func in ("rate", "increase", "delta"):
        return extrapolated_rate(sem, w, func != "delta", func == "rate")
    if func in ("irate", "idelta"):
        return instant_value(w, func == "irate")
    if func == "count_over_time":
        n = w.count()
        return float(n) if n else None
    if func == "present_over_time":
        return 1.0 if w.count() else None
    if func in ("min_over_time", "max_over_time") and w.clean() and w.b > w.a:
        # No NaN: the builtins pick the same element as Prometheus' loop, much faster.
        window = w.series.vals[w.a:w.b]
        return min(window) if func == "min_over_time" else max(window)
    if func in ("deriv", "predict_linear"):
        ts, vals = w.points()
        if len(vals) < 2:
            return None
        if func == "deriv":
            return linear_regression(sem, ts, vals, ts[0])[0]
        slope, intercept = linear_regression(sem, ts, vals, t_ms)
        return slope * param + intercept
    if func.startswith("ts_of_"):
        ts, vals = w.points()
        return _ts_of(func, ts, vals) if vals else None
    vals = _values(w)
    if not vals:
        return None
    if func == "last_over_time":
        return vals[-1]
    if func == "first_over_time":
        return vals[0]
    if func == "quantile_over_time":
        return quantile(param, vals)
    if func == "mad_over_time":
        return _mad(vals)
    if func == "double_exponential_smoothing":
        return double_exponential_smoothing(vals, *param)
    return _AGG_OVER_TIME[func](sem, vals)


_AGG_OVER_TIME = {
    "sum_over_time": sum_over_time,
    "avg_over_time": avg_over_time,
    "min_over_time": lambda sem, v: go_min_over(v),
    "max_over_time": lambda sem, v: go_max_over(v),
    "stdvar_over_time": variance_over_time,
    "stddev_over_time": lambda sem, v: gomath.sqrt(variance_over_time(sem, v)),
    "resets": lambda sem, v: _resets(v),
    "changes": lambda sem, v: _changes(v),
}
