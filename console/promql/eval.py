"""Evaluates a compiled PromQL tree at one instant against a SeriesStore."""

from __future__ import annotations

from bisect import bisect_right

from console.metrics.store import SeriesStore, is_stale

from . import binops, functions, rangefns
from .aggregate import aggregate
from .errors import EvalError
from .parse import SET_OPS, Agg, Binary, Call, Neg, Num, Range, Selector, Str
from .rangefns import Window
from .semantics import LOOKBACK_MS, Semantics, drop_name
from .tick_cache import canonical

Vector = list[tuple[dict[str, str], float]]


class Evaluator:
    """One evaluation: a store, an instant (int ms) and a dialect. Values: float (scalar),
    list of (labels, value) (instant vector) or str; label dicts are shared, never mutated."""

    def __init__(self, store: SeriesStore, t_ms: int, sem: Semantics, memo: dict | None = None) -> None:
        self.store, self.t_ms, self.sem = store, t_ms, sem
        self.memo = memo  # values at this instant (tick_cache.TickMemo.values), or None

    def eval(self, node: object):
        kind = type(node)
        if kind is Num or kind is Str:
            return node.value
        memo = self.memo
        if memo is None:
            return self._eval(kind, node)
        canon = canonical(node)  # equal subtrees of different expressions share one entry
        hit = memo.get(id(canon))
        if hit is not None and hit[0] is canon:
            return hit[1]
        value = self._eval(kind, node)
        memo[id(canon)] = (canon, value)
        return value

    def _eval(self, kind: type, node: object):
        if kind is Selector:
            return self.instant(node)
        if kind is Call:
            return self.call(node)
        if kind is Agg:
            return self.aggregate(node)
        if kind is Binary:
            return self.binary(node)
        if kind is Neg:
            return self.negate(node)
        raise EvalError(f"cannot evaluate {kind.__name__} here")

    # --- selectors ---

    def _select(self, sel: Selector):
        """(labels, Series) the selector picks, resolved on the store's label postings (no scan)."""
        first = sel.matchers[0] if sel.matchers else None
        # The name lookup already applied an equality matcher on __name__: skip re-checking it.
        skip = (first is not None and first.name == "__name__" and first.op == "="
                and first.value == sel.name)
        filters = sel.matchers[1:] if skip else sel.matchers
        return self.store.select(sel.name, filters, self.sem.regex_dot_all)

    def instant(self, sel: Selector) -> Vector:
        """Latest sample per series within the lookback; a trailing staleness marker hides it."""
        ref = self.t_ms - sel.offset_ms
        lo = ref - LOOKBACK_MS
        left_open = self.sem.left_open
        out = []
        for labels, s in self._select(sel):
            i = bisect_right(s.ts, ref) - 1
            if i < 0:
                continue
            t = s.ts[i]
            if t < lo or (left_open and t == lo):
                continue
            v = s.vals[i]
            if v != v and is_stale(v):
                continue
            out.append((labels, v))
        return out

    def windows(self, rng: Range) -> list[Window]:
        end = self.t_ms - rng.sel.offset_ms
        start = end - rng.range_ms
        out = []
        for labels, s in self._select(rng.sel):
            a, b = s.window(start, end, self.sem.left_open)
            if a < b:
                out.append(Window(labels, s, a, b, start, end, rng.range_ms))
        return out

    # --- functions ---

    def call(self, node: Call):
        name, args, sem = node.func, node.args, self.sem
        if name == "time":
            return self.t_ms / 1000
        if name == "vector":
            return [({}, self.eval(args[0]))]
        if name == "scalar":
            return functions.scalar(self.eval(args[0]))
        rng = next((a for a in args if type(a) is Range), None)
        if rng is not None:
            return self.range_call(name, args, rng)
        if name == "absent":
            return [] if self.eval(args[0]) else [(functions.absent_labels(args[0]), 1.0)]
        if name == "histogram_quantile":
            return functions.histogram_quantile(sem, self.eval(args[0]), self.eval(args[1]))
        vec = self.eval(args[0])
        if name in functions.SIMPLE:
            out = functions.simple(sem, name, vec)
        elif name == "round":
            out = functions.round_to(sem, vec, self.eval(args[1]) if len(args) > 1 else 1.0)
        elif name == "clamp":
            out = functions.clamp(sem, vec, self.eval(args[1]), self.eval(args[2]))
        elif name == "clamp_min":
            out = functions.clamp(sem, vec, self.eval(args[1]), float("inf"))
        elif name == "clamp_max":
            out = functions.clamp(sem, vec, float("-inf"), self.eval(args[1]))
        else:
            raise EvalError(f"function {name!r} is not implemented")
        return functions.check_unique(out)

    def range_call(self, name: str, args: tuple, rng: Range) -> Vector:
        windows = self.windows(rng)
        if name == "absent_over_time":
            if any(w.count() for w in windows):
                return []
            return [(functions.absent_labels(rng.sel), 1.0)]
        param = self.eval(args[0]) if name == "quantile_over_time" else None
        keep_name = name == "last_over_time"  # it acts like an offset, so the name stays
        out = []
        for w in windows:
            v = rangefns.apply(self.sem, name, w, param)
            if v is not None:
                out.append((w.labels if keep_name else drop_name(self.sem, w.labels), v))
        return functions.check_unique(out)

    # --- operators ---

    def aggregate(self, node: Agg) -> Vector:
        param = None if node.param is None else self.eval(node.param)
        vec = self.eval(node.expr)
        return aggregate(self.sem, node.op, vec, node.without, node.labels, param)

    def binary(self, node: Binary):
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        l_scalar, r_scalar = node.lhs.type == "scalar", node.rhs.type == "scalar"
        if l_scalar and r_scalar:
            return binops.scalar_binop(node.op, lhs, rhs)
        if node.op in SET_OPS:
            return functions.check_unique(binops.set_op(node, lhs, rhs))
        if r_scalar:
            out = binops.vector_scalar(self.sem, node, lhs, rhs, swap=False)
        elif l_scalar:
            out = binops.vector_scalar(self.sem, node, rhs, lhs, swap=True)
        else:
            out = binops.vector_vector(self.sem, node, lhs, rhs)
        return functions.check_unique(out)

    def negate(self, node: Neg):
        val = self.eval(node.expr)
        if node.type == "scalar":
            return -val
        return functions.check_unique([(drop_name(self.sem, labels), -v) for labels, v in val])
