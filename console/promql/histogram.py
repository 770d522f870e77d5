"""histogram_quantile over classic `le` buckets and the φ-quantile helper, after promql/quantile.go."""

from __future__ import annotations

import math
from .semantics import Semantics

SMALL_DELTA_TOLERANCE = 1e-12
_MIN_NORMAL = 2.2250738585072014e-308  # smallest positive normal float64


def quantile(q: float, values: list[float]) -> float:
    """quantile(): NaN sorts first; linear interpolation between the closest ranks."""
    if not values or q != q:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values, key=lambda v: (v == v, v))  # NaN (v != v) first, as vectorByValueHeap
    n = float(len(ordered))
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def almost_equal(a: float, b: float, epsilon: float) -> bool:
    """util/almost.Equal."""
    if a != a and b != b:
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < epsilon * _MIN_NORMAL
    return diff / min(abs_sum, 1.7976931348623157e308) < epsilon


def _coalesce(buckets: list[list[float]]) -> list[list[float]]:
    """Merge buckets with the same upper bound ("1" and "1.0" are one bucket). Input is sorted."""
    out = [list(buckets[0])]
    for upper, count in buckets[1:]:
        if upper == out[-1][0]:
            out[-1][1] += count
        else:
            out.append([upper, count])
    return out


def _ensure_monotonic(buckets: list[list[float]], ignore_small_deltas: bool) -> None:
    """Remove decreases between successive buckets (and, in 3.x, float-noise deltas first)."""
    prev = buckets[0][1]
    for b in buckets[1:]:
        curr = b[1]
        if curr == prev:
            continue
        if ignore_small_deltas and almost_equal(prev, curr, SMALL_DELTA_TOLERANCE):
            b[1] = prev
            continue
        if curr < prev:
            b[1] = prev
            continue
        prev = curr


def _ensure_monotonic_2x(buckets: list[list[float]]) -> None:
    top = buckets[0][1]
    for b in buckets[1:]:
        if b[1] > top:
            top = b[1]
        elif b[1] < top:
            b[1] = top


def _search(n: int, pred) -> int:
    """Go's sort.Search: the first i in [0, n) where pred holds (NaN counts bisect as Go does)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if not pred(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def bucket_quantile(sem: Semantics, q: float, raw: list[tuple[float, float]]) -> float:
    """bucketQuantile: linear interpolation inside the bucket holding rank q * count."""
    if q != q:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = _monotonic_buckets(sem, raw)
    if buckets is None:
        return math.nan
    if len(buckets) < 2:
        return math.nan
    observations = buckets[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = _search(len(buckets) - 1, lambda i: buckets[i][1] >= rank)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[b][0], buckets[b][1]
    if b > 0:
        start = buckets[b - 1][0]
        count -= buckets[b - 1][1]
        rank -= buckets[b - 1][1]
    return start + (end - start) * (rank / count)


def parse_le(text: str | None) -> float | None:
    """strconv.ParseFloat as Prometheus applies it to `le`; None when it is not a number."""
    if not text or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        try:
            return float.fromhex(text)
        except ValueError:
            return None


def group_buckets(vector: list[tuple[dict[str, str], float]]):
    """Group classic buckets by their labels without `le` (the name included, see #9910)."""
    groups: dict[tuple, tuple[dict[str, str], list[tuple[float, float]]]] = {}
    for labels, value in vector:
        upper = parse_le(labels.get("le"))
        if upper is None:
            continue  # Prometheus skips samples without a parseable le (with a warning)
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        group = groups.get(key)
        if group is None:
            group = groups[key] = ({k: v for k, v in labels.items() if k != "le"}, [])
        group[1].append((upper, value))
    return list(groups.values())


def _monotonic_buckets(sem: Semantics, raw: list[tuple[float, float]]) -> list[list[float]] | None:
    """Classic buckets sorted by upper bound, equal bounds summed, counts made monotonic as this Prometheus
    version does; None without a +Inf bucket (the answer is then NaN)."""
    # Stable sort by upper bound, as slices.SortFunc keeps no particular order for equal bounds:
    # equal bounds are summed next anyway, so their order cannot matter.
    ordered = sorted(([u, c] for u, c in raw), key=lambda b: b[0])
    if ordered[-1][0] != math.inf:
        return None
    buckets = _coalesce(ordered)
    if sem.ignore_small_bucket_deltas:
        _ensure_monotonic(buckets, True)
    else:
        _ensure_monotonic_2x(buckets)
    return buckets


def bucket_fraction(sem: Semantics, lower: float, upper: float,
                    raw: list[tuple[float, float]]) -> float:
    """histogram_fraction on classic buckets: the share of observations in [lower, upper],
    interpolating linearly inside a bucket (the lowest bucket starts at 0 when its bound is
    positive, as histogram_quantile assumes)."""
    buckets = _monotonic_buckets(sem, raw)
    if buckets is None:
        return math.nan
    count = buckets[-1][1]
    if count == 0 or lower != lower or upper != upper:
        return math.nan
    if lower >= upper:
        return 0.0
    rank = lower_rank = upper_rank = 0.0
    lower_set = upper_set = False
    for i, (bound, cum) in enumerate(buckets):
        if i > 0:
            lo = buckets[i - 1][0]
        else:
            lo = 0.0 if bound > 0 else -math.inf
        if not lower_set and lo >= lower:
            lower_rank, lower_set = rank, True
        if not upper_set and lo >= upper:
            upper_rank, upper_set = rank, True
        if lower_set and upper_set:
            break
        if not lower_set and lo < lower < bound:
            lower_rank, lower_set = rank + (cum - rank) * (lower - lo) / (bound - lo), True
        if not upper_set and lo < upper < bound:
            upper_rank, upper_set = rank + (cum - rank) * (upper - lo) / (bound - lo), True
        if lower_set and upper_set:
            break
        rank = cum
    if not lower_set or lower_rank > count:
        lower_rank = count
    if not upper_set or upper_rank > count:
        upper_rank = count
    return (upper_rank - lower_rank) / count
