"""Binary operators: arithmetic, comparisons and set operators with Prometheus' vector matching."""

from __future__ import annotations

import math

from . import gomath
from .errors import EvalError
from .parse import COMPARISON, Binary
from .semantics import Semantics, drop_name

Vector = list[tuple[dict[str, str], float]]


def arith(op: str, x: float, y: float) -> float:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        return gomath.div(x, y)
    if op == "%":
        return gomath.mod(x, y)
    if op == "^":
        return gomath.pow(x, y)
    if op == "atan2":
        return math.atan2(x, y)
    raise EvalError(f"operator {op!r} not allowed here")


def compare(op: str, x: float, y: float) -> bool:
    if op == "==":
        return x == y
    if op == "!=":
        return x != y
    if op == ">":
        return x > y
    if op == "<":
        return x < y
    if op == ">=":
        return x >= y
    return x <= y


def scalar_binop(op: str, x: float, y: float) -> float:
    if op in COMPARISON:  # the parser only allows these between scalars with `bool`
        return 1.0 if compare(op, x, y) else 0.0
    return arith(op, x, y)


def _drops_name(sem: Semantics, op: str) -> bool:
    # Arithmetic changes what the metric is; 2.42 kept the name for atan2.
    return op in ("+", "-", "*", "/", "%", "^") or (op == "atan2" and sem.atan2_drops_name)


def _elem(op: str, x: float, y: float) -> tuple[float, bool]:
    """(value, keep): comparisons keep the left value when true."""
    if op in COMPARISON:
        return x, compare(op, x, y)
    return arith(op, x, y), True


def vector_scalar(sem: Semantics, node: Binary, vec: Vector, scalar: float, swap: bool) -> Vector:
    """`vec op scalar`, or `scalar op vec` when swap; a comparison keeps the vector's value."""
    op, out = node.op, []
    drop = _drops_name(sem, op) or node.return_bool
    for labels, v in vec:
        x, y = (scalar, v) if swap else (v, scalar)
        value, keep = _elem(op, x, y)
        if op in COMPARISON and swap:
            value = v
        if node.return_bool:
            value, keep = (1.0 if keep else 0.0), True
        if keep:
            out.append((drop_name(sem, labels) if drop else labels, value))
    return out


def signature_fn(on: bool, names: tuple[str, ...]):
    """Matching signature: on(names) keeps only those labels, ignoring(names) all others but the name."""
    if on:
        wanted = sorted(set(names))
        return lambda labels: tuple((n, labels[n]) for n in wanted if n in labels)
    skip = set(names) | {"__name__"}
    return lambda labels: tuple(sorted((k, v) for k, v in labels.items() if k not in skip))


def _result_labels(sem: Semantics, node: Binary, lhs: dict[str, str], rhs: dict[str, str]) -> dict:
    out = drop_name(sem, lhs) if _drops_name(sem, node.op) else dict(lhs)
    if node.card == "one-to-one":
        if node.on:
            out = {k: v for k, v in out.items() if k in node.match_labels}
        else:
            for n in node.match_labels:
                out.pop(n, None)
    for n in node.include:  # group_x labels come from the "one" side
        if rhs.get(n):
            out[n] = rhs[n]
        else:
            out.pop(n, None)
    return out


def vector_vector(sem: Semantics, node: Binary, lhs: Vector, rhs: Vector) -> Vector:
    if not lhs or not rhs:
        return []
    sig = signature_fn(node.on, node.match_labels)
    swapped = node.card == "one-to-many"
    if swapped:  # handle group_right as group_left with the sides exchanged
        lhs, rhs = rhs, lhs
    right: dict[tuple, tuple[dict[str, str], float]] = {}
    for labels, v in rhs:
        key = sig(labels)
        if key in right:
            side = "left" if swapped else "right"
            raise EvalError(
                f"found duplicate series for the match group {dict(key)} on the {side} hand-side "
                "of the operation; many-to-many matching not allowed: matching labels must be "
                "unique on one side")
        right[key] = (labels, v)
    matched: dict[tuple, set | None] = {}
    out: Vector = []
    for labels, v in lhs:
        key = sig(labels)
        hit = right.get(key)
        if hit is None:
            continue
        r_labels, r_v = hit
        value, keep = _elem(node.op, *((r_v, v) if swapped else (v, r_v)))
        if node.return_bool:
            value = 1.0 if keep else 0.0
        elif not keep and not sem.match_check_before_filter:
            continue  # 2.42 filters before checking for duplicate matches
        metric = _result_labels(sem, node, labels, r_labels)
        if node.return_bool:
            metric = drop_name(sem, metric)
        _check_match(node, matched, key, metric)
        if keep or node.return_bool:
            out.append((metric, value))
    return out


def _check_match(node: Binary, matched: dict, key: tuple, metric: dict[str, str]) -> None:
    if node.card == "one-to-one":
        if key in matched:
            raise EvalError("multiple matches for labels: many-to-one matching must be explicit "
                            "(group_left/group_right)")
        matched[key] = None
        return
    seen = matched.setdefault(key, set())
    mkey = tuple(sorted(metric.items()))
    if mkey in seen:
        raise EvalError("multiple matches for labels: grouping labels must ensure unique matches")
    seen.add(mkey)


def set_op(node: Binary, lhs: Vector, rhs: Vector) -> Vector:
    """and / or / unless, matched on label signatures (values are never compared)."""
    sig = signature_fn(node.on, node.match_labels)
    if node.op == "and":
        if not lhs or not rhs:
            return []
        right = {sig(labels) for labels, _ in rhs}
        return [s for s in lhs if sig(s[0]) in right]
    if node.op == "or":
        if not lhs or not rhs:
            return list(lhs or rhs)
        left = {sig(labels) for labels, _ in lhs}
        return list(lhs) + [s for s in rhs if sig(s[0]) not in left]
    if not lhs or not rhs:
        return list(lhs)
    right = {sig(labels) for labels, _ in rhs}
    return [s for s in lhs if sig(s[0]) not in right]
