"""Local PromQL evaluator: the same rule expressions Prometheus runs, evaluated on a SeriesStore."""

from __future__ import annotations

from console.metrics.store import SeriesStore

from .errors import EvalError, UnsupportedQuery
from .eval import Evaluator
from .parse import check, compile_expr
from .semantics import BY_NAME
from .tick_cache import TickMemo, compiled

__all__ = ["EvalError", "TickMemo", "UnsupportedQuery", "check", "evaluate"]


def evaluate(expr: str, store: SeriesStore, at: float,
             semantics: str = "prometheus-3", memo: TickMemo | None = None) -> list[tuple[dict[str, str], float]]:
    """Instant query `expr` at `at` (epoch seconds); a scalar is one entry with empty labels.

    Raises UnsupportedQuery for what check() rejects and EvalError where Prometheus errors.
    With a `memo`, subexpressions already computed at this instant on this store are reused.
    """
    try:
        sem = BY_NAME[semantics]
    except KeyError:
        raise ValueError(f"unknown semantics {semantics!r}; use one of {sorted(BY_NAME)}") from None
    node = compiled(expr, compile_expr)
    t_ms = round(at * 1000)
    values = None if memo is None else memo.values(store, t_ms, sem.name)
    value = Evaluator(store, t_ms, sem, memo=values).eval(node)
    if node.type == "scalar":
        return [({}, value)]
    return [(dict(labels), v) for labels, v in value]  # copies: results must not alias the store
