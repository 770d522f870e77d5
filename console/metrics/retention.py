"""What the store must keep: the metric names some expression selects, and the longest window it reads."""

from __future__ import annotations

from typing import Callable, Iterable

import promql_parser

LOOKBACK = 300.0  # Prometheus's instant-vector lookback (5 m)


def needs(exprs: Iterable[str]) -> tuple[Callable[[str], bool], float]:
    """(keep(metric_name), retention seconds) for a set of PromQL expressions."""
    names: set[str] = set()
    keep_all = False
    longest = 0.0

    def visit(node) -> bool:
        nonlocal keep_all, longest
        kind = type(node).__name__
        if kind == "MatrixSelector":
            longest = max(longest, node.range.total_seconds())
        elif kind == "VectorSelector":
            offset = node.offset.total_seconds() if node.offset else 0.0
            longest = max(longest, offset)
            if node.name:
                names.add(node.name)
            else:  # {__name__=~"..."}: cannot tell statically
                keep_all = True
        return True

    for e in exprs:
        promql_parser.walk(promql_parser.parse(e), visit)
    names.add("up")
    keep = (lambda _n: True) if keep_all else names.__contains__
    return keep, longest + LOOKBACK
