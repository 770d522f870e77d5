"""Go's float semantics where Python's differ: Python raises where Go returns ±Inf or NaN."""

from __future__ import annotations

import math

INF = math.inf
NAN = math.nan
# Go folds these constant expressions exactly, then rounds once: 1/Ln2 and 1/Ln10.
_LOG2_E = 1.44269504088896340735992468100189214
_LOG10_E = 0.434294481903251827651128918916605082


def div(x: float, y: float) -> float:
    if y == 0:
        if x == 0 or x != x:
            return NAN
        # IEEE: the sign is the product of the signs, including that of a zero divisor.
        return math.copysign(INF, x) * math.copysign(1.0, y)
    return x / y


def mod(x: float, y: float) -> float:
    """math.Mod: sign of x; NaN for y == 0 or infinite x."""
    try:
        return math.fmod(x, y)
    except ValueError:
        return NAN


def _odd_int(y: float) -> bool:
    return math.isfinite(y) and y.is_integer() and int(y) % 2 == 1


def pow(x: float, y: float) -> float:  # noqa: A001 - mirrors math.Pow
    try:
        return math.pow(x, y)
    except ValueError:
        if x == 0:  # 0 ** negative
            return math.copysign(INF, x) if _odd_int(y) else INF
        return NAN  # negative ** non-integer
    except OverflowError:
        return -INF if x < 0 and _odd_int(y) else INF


def go_max(x: float, y: float) -> float:
    """math.Max: +Inf wins over NaN, NaN over everything else, +0 over -0."""
    if x == INF or y == INF:
        return INF
    if x != x or y != y:
        return NAN
    if x == 0 and y == 0:
        return x if math.copysign(1.0, x) > 0 else y
    return x if x > y else y


def go_min(x: float, y: float) -> float:
    if x == -INF or y == -INF:
        return -INF
    if x != x or y != y:
        return NAN
    if x == 0 and y == 0:
        return x if math.copysign(1.0, x) < 0 else y
    return x if x < y else y


def _keep_zero_sign(r: float, x: float) -> float:
    return math.copysign(r, x) if r == 0 else r


def ceil(x: float) -> float:
    return x if not math.isfinite(x) else _keep_zero_sign(float(math.ceil(x)), x)


def floor(x: float) -> float:
    return x if not math.isfinite(x) else _keep_zero_sign(float(math.floor(x)), x)


def sqrt(x: float) -> float:
    return NAN if x < 0 else math.sqrt(x)


def exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def ln(x: float) -> float:
    if x != x or x < 0:
        return NAN
    if x == 0:
        return -INF
    return math.log(x)


def log2(x: float) -> float:
    # Go: frexp, exact for powers of two, else Log(frac)/Ln2 + exp.
    if x != x or x <= 0 or x == INF:
        return ln(x)
    frac, e = math.frexp(x)
    if frac == 0.5:
        return float(e - 1)
    return math.log(frac) * _LOG2_E + e


def log10(x: float) -> float:
    return ln(x) * _LOG10_E  # Go: math.log10(x) = math.Log(x) * (1/Ln10)


def sgn(x: float) -> float:
    if x < 0:
        return -1.0
    if x > 0:
        return 1.0
    return x


def go_int64(f: float) -> int | None:
    """int64(f) as Go's topk/bottomk accept it; None when it does not fit."""
    if f != f or not -(2.0**63) <= f < 2.0**63:
        return None
    return int(f)
