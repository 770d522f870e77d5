"""The two PromQL dialects reproduced exactly: Prometheus 3.x (default) and 2.42 (Debian's promtool)."""

from __future__ import annotations

import math
from dataclasses import dataclass

LOOKBACK_MS = 300_000  # Prometheus' default --query.lookback-delta


@dataclass(frozen=True)
class Semantics:
    name: str
    # 3.x: range windows and the instant lookback are (t - d, t]; 2.x: [t - d, t].
    left_open: bool
    # rate/increase: 2.x clamps the start extrapolation at the counter's zero point *before* the
    # 1.1x-average-interval test (changed in 2.51); 3.x decides the threshold first.
    zero_floor_first: bool
    # 3.x Kahan increment resets the compensation when the sum overflows to ±Inf.
    kahan_inf_reset: bool
    # 3.x sum()/avg() aggregations use Kahan summation; 2.42 uses a plain sum and incremental mean.
    # (The same switch selects 3.x's topk/bottomk heap update and stddev start value.)
    kahan_aggregation: bool
    # 3.x avg_over_time: direct Kahan mean (incremental only after overflow); 2.x: incremental mean.
    direct_mean_over_time: bool
    # 3.x histogram_quantile also ignores bucket deltas below 1e-12 (relative) before monotonicity.
    ignore_small_bucket_deltas: bool
    # Labels dropped where the metric name is dropped (3.x drops the type/unit metadata labels too).
    dropped_labels: frozenset[str]
    # 3.x drops the metric name for atan2 like for other arithmetic; 2.42 kept it.
    atan2_drops_name: bool
    # 3.x reports duplicate one-to-one matches even for pairs a comparison filters out; 2.42 did not.
    match_check_before_filter: bool
    # 3.x regex matchers use (?s): "." matches a newline in a label value; 2.42's did not.
    regex_dot_all: bool


PROMETHEUS_3 = Semantics(
    name="prometheus-3", left_open=True, zero_floor_first=False, kahan_inf_reset=True,
    kahan_aggregation=True, direct_mean_over_time=True, ignore_small_bucket_deltas=True,
    dropped_labels=frozenset({"__name__", "__type__", "__unit__"}),
    atan2_drops_name=True, match_check_before_filter=True, regex_dot_all=True,
)
PROMETHEUS_2 = Semantics(
    name="prometheus-2", left_open=False, zero_floor_first=True, kahan_inf_reset=False,
    kahan_aggregation=False, direct_mean_over_time=False, ignore_small_bucket_deltas=False,
    dropped_labels=frozenset({"__name__"}),
    atan2_drops_name=False, match_check_before_filter=False, regex_dot_all=False,
)
BY_NAME = {s.name: s for s in (PROMETHEUS_3, PROMETHEUS_2)}


def kahan_inc(sem: Semantics, inc: float, s: float, c: float) -> tuple[float, float]:
    """One Kahan-Neumaier step (kahansum.Inc / kahanSumInc)."""
    t = s + inc
    if sem.kahan_inf_reset and math.isinf(t):
        return t, 0.0
    if abs(s) >= abs(inc):
        c += (s - t) + inc
    else:
        c += (inc - t) + s
    return t, c


def drop_name(sem: Semantics, labels: dict[str, str]) -> dict[str, str]:
    dropped = sem.dropped_labels
    return {k: v for k, v in labels.items() if k not in dropped}
