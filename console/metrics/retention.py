"""What the store must keep: the metric names some expression selects, and the longest window it reads."""

from __future__ import annotations

from typing import Callable, Iterable

import promql_parser

LOOKBACK = 300.0  # Prometheus's instant-vector lookback (5 m)


def _seconds(td) -> float:
    return td.total_seconds() if td else 0.0


def needs(exprs: Iterable[str]) -> tuple[Callable[[str], bool], float]:
    """(keep(metric_name), retention seconds) for a set of PromQL expressions.

    A selector inside subqueries reads back as far as the subqueries' ranges and offsets add up
    (`max_over_time(rate(x[5m])[1h:1m])` reads 1 h 5 m of x).
    """
    names: set[str] = set()
    keep_all = False
    longest = 0.0

    def visit(node, reach: float) -> None:
        nonlocal keep_all, longest
        if isinstance(node, promql_parser.SubqueryExpr):
            visit(node.expr, reach + _seconds(node.range) + max(0.0, _seconds(node.offset)))
        elif isinstance(node, promql_parser.MatrixSelector):
            visit(node.vector_selector, reach + _seconds(node.range))
        elif isinstance(node, promql_parser.VectorSelector):
            longest = max(longest, reach + max(0.0, _seconds(node.offset)))
            if node.name:
                names.add(node.name)
            else:  # {__name__=~"..."}: cannot tell statically
                keep_all = True
        elif isinstance(node, (promql_parser.ParenExpr, promql_parser.UnaryExpr)):
            visit(node.expr, reach)
        elif isinstance(node, promql_parser.BinaryExpr):
            visit(node.lhs, reach)
            visit(node.rhs, reach)
        elif isinstance(node, promql_parser.AggregateExpr):
            visit(node.expr, reach)
            if node.param is not None:
                visit(node.param, reach)
        elif isinstance(node, promql_parser.Call):
            for a in node.args:
                visit(a, reach)

    for e in exprs:
        visit(promql_parser.parse(e), 0.0)
    names.add("up")
    keep = (lambda _n: True) if keep_all else names.__contains__
    return keep, longest + LOOKBACK
