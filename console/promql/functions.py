"""Instant-vector and scalar functions (abs, clamp, scalar, absent, histogram_quantile, ...)."""

from __future__ import annotations

import math

from . import gomath
from .errors import EvalError
from .histogram import bucket_fraction, bucket_quantile, group_buckets
from .parse import Selector
from .semantics import Semantics, drop_name

Vector = list[tuple[dict[str, str], float]]

SIMPLE = {
    "abs": math.fabs, "ceil": gomath.ceil, "floor": gomath.floor, "sqrt": gomath.sqrt,
    "exp": gomath.exp, "ln": gomath.ln, "log2": gomath.log2, "log10": gomath.log10,
    "sgn": gomath.sgn,
}


def check_unique(vec: Vector) -> Vector:
    """Prometheus refuses a result in which two samples share a label set (e.g. after dropping names)."""
    seen = set()
    for labels, _ in vec:
        key = tuple(sorted(labels.items()))
        if key in seen:
            raise EvalError("vector cannot contain metrics with the same labelset")
        seen.add(key)
    return vec


def simple(sem: Semantics, name: str, vec: Vector) -> Vector:
    fn = SIMPLE[name]
    return [(drop_name(sem, labels), fn(v)) for labels, v in vec]


def round_to(sem: Semantics, vec: Vector, to_nearest: float) -> Vector:
    inverse = gomath.div(1.0, to_nearest)  # inverted: fewer float artefacts, as Prometheus does
    return [(drop_name(sem, labels), gomath.div(gomath.floor(v * inverse + 0.5), inverse))
            for labels, v in vec]


def clamp(sem: Semantics, vec: Vector, lo: float, hi: float) -> Vector:
    if hi < lo:
        return []
    return [(drop_name(sem, labels), gomath.go_max(lo, gomath.go_min(hi, v))) for labels, v in vec]


def scalar(vec: Vector) -> float:
    return vec[0][1] if len(vec) == 1 else math.nan


def absent_labels(arg: object) -> dict[str, str]:
    """absent()'s labels: those an equality matcher pins, once (createLabelsForAbsentFunction)."""
    if not isinstance(arg, Selector):
        return {}
    out: dict[str, str] = {}
    seen: set[str] = set()
    for m in arg.matchers:
        if m.name == "__name__":
            continue
        if m.op == "=" and m.name not in seen:
            out[m.name] = m.value
            seen.add(m.name)
        else:
            out.pop(m.name, None)
    return {k: v for k, v in out.items() if v}


def histogram_quantile(sem: Semantics, q: float, vec: Vector) -> Vector:
    out = []
    for labels, buckets in group_buckets(vec):
        out.append((drop_name(sem, labels), bucket_quantile(sem, q, buckets)))
    return check_unique(out)


def _go_math(fn):
    """Go's math returns NaN or ±Inf where Python raises."""
    def wrapped(x: float) -> float:
        try:
            return fn(x)
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf
    return wrapped


def _atanh(x: float) -> float:
    if x == 1:
        return math.inf
    if x == -1:
        return -math.inf
    return math.atanh(x) if -1 < x < 1 else math.nan


def _deg(x: float) -> float:
    return x * 180 / math.pi


def _rad(x: float) -> float:
    return x * math.pi / 180


for _name, _fn in (("acos", math.acos), ("acosh", math.acosh), ("asin", math.asin),
                   ("asinh", math.asinh), ("atan", math.atan), ("cos", math.cos),
                   ("cosh", math.cosh), ("sin", math.sin), ("sinh", math.sinh),
                   ("tan", math.tan), ("tanh", math.tanh)):
    SIMPLE[_name] = _go_math(_fn)
SIMPLE.update(atanh=_atanh, deg=_deg, rad=_rad)


def histogram_fraction(sem: Semantics, lower: float, upper: float, vec: Vector) -> Vector:
    out = [(drop_name(sem, labels), bucket_fraction(sem, lower, upper, buckets))
           for labels, buckets in group_buckets(vec)]
    return check_unique(out)
