"""Aggregation operators (sum, avg, min, max, count, group, stddev, stdvar, quantile, topk, bottomk)."""

from __future__ import annotations

import math
from decimal import Decimal

from . import gomath
from .errors import EvalError
from .histogram import quantile
from .labelhash import labels_hash
from .semantics import Semantics, kahan_inc

Vector = list[tuple[dict[str, str], float]]


def _group_key(labels: dict[str, str], without: bool, names: tuple[str, ...]) -> tuple:
    if without:
        skip = set(names) | {"__name__"}
        return tuple(sorted((k, v) for k, v in labels.items() if k not in skip))
    return tuple((n, labels[n]) for n in sorted(set(names)) if n in labels)


def _group_labels(key: tuple) -> dict[str, str]:
    return dict(key)


class _Group:
    __slots__ = ("value", "mean", "c", "count", "incremental", "values")

    def __init__(self, f: float) -> None:
        self.value, self.mean, self.c, self.count = f, f, 0.0, 1.0
        self.incremental = False
        self.values = [f]


def _start(sem: Semantics, op: str, f: float) -> _Group:
    g = _Group(f)
    if op in ("stddev", "stdvar"):
        # 3.x starts a group whose first value is NaN or ±Inf at NaN; 2.42 at 0.
        g.value = math.nan if sem.kahan_aggregation and not math.isfinite(f) else 0.0
    elif op == "group":
        g.value = 1.0
    return g


def _add_avg(sem: Semantics, g: _Group, f: float) -> None:
    g.count += 1
    if not sem.kahan_aggregation:
        # 2.42: incremental mean, guarding Inf - Inf.
        if math.isinf(g.mean):
            if math.isinf(f) and (g.mean > 0) == (f > 0):
                return
            if not math.isinf(f) and not math.isnan(f):
                return
        g.mean += f / g.count - g.mean / g.count
        return
    if not g.incremental:
        new_v, new_c = kahan_inc(sem, f, g.value, g.c)
        if not math.isinf(new_v):
            g.value, g.c = new_v, new_c
            return
        g.incremental = True  # the direct sum would overflow: switch to an incremental mean
        g.mean = g.value / (g.count - 1)
        g.c /= g.count - 1
    q = (g.count - 1) / g.count
    g.mean, g.c = kahan_inc(sem, f / g.count, q * g.mean, q * g.c)


def _add(sem: Semantics, op: str, g: _Group, f: float) -> None:
    if op == "sum":
        if sem.kahan_aggregation:
            g.value, g.c = kahan_inc(sem, f, g.value, g.c)
        else:
            g.value += f
    elif op == "avg":
        _add_avg(sem, g, f)
    elif op == "max":
        if g.value < f or g.value != g.value:
            g.value = f
    elif op == "min":
        if g.value > f or g.value != g.value:
            g.value = f
    elif op == "count":
        g.count += 1
    elif op in ("stddev", "stdvar"):
        g.count += 1
        delta = f - g.mean
        g.mean += delta / g.count
        g.value += delta * (f - g.mean)
    elif op == "quantile":
        g.values.append(f)


def _finish(sem: Semantics, op: str, g: _Group, param: float | None) -> float:
    if op == "sum":
        return g.value + g.c if sem.kahan_aggregation else g.value
    if op == "avg":
        if not sem.kahan_aggregation or g.incremental:
            return g.mean + g.c
        return g.value / g.count + g.c / g.count
    if op == "count":
        return g.count
    if op == "stdvar":
        return g.value / g.count
    if op == "stddev":
        return gomath.sqrt(g.value / g.count)
    if op == "quantile":
        return quantile(param, g.values)
    return g.value  # min, max, group


def aggregate(sem: Semantics, op: str, vec: Vector, without: bool, names: tuple[str, ...],
              param: float | None) -> Vector:
    if op in ("topk", "bottomk"):
        return _topk(sem, op, vec, without, names, param)
    if op == "limitk":
        return _limitk(vec, without, names, param)
    if op == "limit_ratio":
        return _limit_ratio(vec, param)
    if op == "count_values":
        return _count_values(vec, without, names, param)
    groups: dict[tuple, _Group] = {}
    # the grouping labels worked out once per call, not once per sample (same keys as _group_key)
    if without:
        skip = set(names) | {"__name__"}
        keys = (tuple(sorted((k, v) for k, v in labels.items() if k not in skip)) for labels, _ in vec)
    else:
        by = sorted(set(names))
        keys = (tuple((n, labels[n]) for n in by if n in labels) for labels, _ in vec)
    for key, (labels, f) in zip(keys, vec):
        g = groups.get(key)
        if g is None:
            groups[key] = _start(sem, op, f)
        else:
            _add(sem, op, g, f)
    return [(_group_labels(k), _finish(sem, op, g, param)) for k, g in groups.items()]


# --- topk / bottomk: Go's container/heap, so that ties pick the same series as Prometheus ---

def _less(op: str, x: float, y: float) -> bool:
    if x != x:
        return True
    return x < y if op == "topk" else x > y


def _up(op: str, h: list, j: int) -> None:
    while True:
        i = (j - 1) // 2
        if j <= 0 or i == j or not _less(op, h[j][1], h[i][1]):
            break
        h[i], h[j] = h[j], h[i]
        j = i


def _down(op: str, h: list, i0: int, n: int) -> bool:
    i = i0
    while True:
        j1 = 2 * i + 1
        if j1 >= n:
            break
        j = j1
        if j1 + 1 < n and _less(op, h[j1 + 1][1], h[j1][1]):
            j = j1 + 1
        if not _less(op, h[j][1], h[i][1]):
            break
        h[i], h[j] = h[j], h[i]
        i = j
    return i > i0


def _offer(sem: Semantics, op: str, h: list, k: int, sample: tuple) -> None:
    f, top = sample[1], h[0][1]
    better = top < f if op == "topk" else top > f
    if not sem.kahan_aggregation:
        # 2.42: replace when better or when the heap's top is NaN; pop then push.
        if len(h) < k or better or top != top:
            if len(h) == k:
                if k == 1:
                    h[0] = sample
                    return
                h[0], h[-1] = h[-1], h[0]
                _down(op, h, 0, len(h) - 1)
                h.pop()
            h.append(sample)
            _up(op, h, len(h) - 1)
        return
    if len(h) < k:
        h.append(sample)
        _up(op, h, len(h) - 1)
    elif better or (top != top and f == f):
        h[0] = sample
        if k > 1 and not _down(op, h, 0, len(h)):
            _up(op, h, 0)


def _topk(sem: Semantics, op: str, vec: Vector, without: bool, names: tuple[str, ...],
          param: float | None) -> Vector:
    k = gomath.go_int64(param)
    if k is None:
        raise EvalError(f"Scalar value {param} overflows int64")
    k = min(k, len(vec))
    if k < 1:
        return []
    heaps: dict[tuple, list] = {}
    for sample in vec:
        key = _group_key(sample[0], without, names)
        h = heaps.get(key)
        if h is None:
            heaps[key] = [sample]
        else:
            _offer(sem, op, h, k, sample)
    out: Vector = []
    for h in heaps.values():
        # NaN is sorted away from the top and the bottom: last either way.
        nan = [s for s in h if s[1] != s[1]]
        out.extend(sorted((s for s in h if s[1] == s[1]), key=lambda s: s[1],
                          reverse=(op == "topk")) + nan)
    return out


# --- limitk, limit_ratio, count_values ---

def _limitk(vec: Vector, without: bool, names: tuple[str, ...], param: float) -> Vector:
    """The first k series of each group, in the input's order."""
    k = gomath.go_int64(param)
    if k is None:
        raise EvalError(f"Scalar value {param} overflows int64")
    if k < 1:
        return []
    kept: dict[tuple, int] = {}
    out: Vector = []
    for sample in vec:
        key = _group_key(sample[0], without, names)
        n = kept.get(key, 0)
        if n < k:
            kept[key] = n + 1
            out.append(sample)
    return out


def _limit_ratio(vec: Vector, ratio: float) -> Vector:
    """A deterministic sample by the series' label hash: ratio r keeps those whose hash falls
    in [0, r) of the hash space, -r the complement (RatioSampler)."""
    if ratio != ratio:
        raise EvalError("Ratio value is NaN")
    ratio = max(-1.0, min(1.0, ratio))
    out = []
    for labels, v in vec:
        offset = labels_hash(labels) / 18446744073709551615.0
        if (ratio >= 0 and offset < ratio) or (ratio < 0 and offset >= 1.0 + ratio):
            out.append((labels, v))
    return out


def format_value(f: float) -> str:
    """strconv.FormatFloat(f, 'f', -1, 64): the shortest decimal, never an exponent."""
    if f != f:
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    text = format(Decimal(repr(f)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _count_values(vec: Vector, without: bool, names: tuple[str, ...], label: str) -> Vector:
    counts: dict[tuple, float] = {}
    for labels, v in vec:
        group = dict(_group_key(labels, without, names))
        group[label] = format_value(v)
        key = tuple(sorted(group.items()))
        counts[key] = counts.get(key, 0.0) + 1.0
    return [(dict(k), n) for k, n in counts.items()]
