"""Evaluates a compiled PromQL tree at one instant against a SeriesStore."""

from __future__ import annotations

import math
from bisect import bisect_right

from console.metrics.store import SeriesStore, is_stale

from . import binops, datefns, functions, labelfns, rangefns
from .aggregate import aggregate
from .errors import EvalError
from .parse import DATE_FUNCTIONS, SET_OPS, Agg, Binary, Call, Neg, Num, Range, Selector, Str, Subquery
from .rangefns import Window
from .semantics import LOOKBACK_MS, Semantics, drop_name
from .subquery import subquery_windows
from .tick_cache import canonical

# The step of a subquery written without one (`x[1h:]`): Prometheus uses the global evaluation
# interval; rules here are evaluated about every second, but promtool and promqltest use 1m.
DEFAULT_SUBQUERY_STEP_MS = 60_000

Vector = list[tuple[dict[str, str], float]]
LABEL_FUNCTIONS = frozenset({"label_replace", "label_join", "sort", "sort_desc", "sort_by_label",
                             "sort_by_label_desc"})


class Evaluator:
    """One evaluation: a store, an instant (int ms) and a dialect. Values: float (scalar),
    list of (labels, value) (instant vector) or str; label dicts are shared, never mutated."""

    def __init__(self, store: SeriesStore, t_ms: int, sem: Semantics,
                 query_range: tuple[int, int] | None = None,
                 default_step_ms: int = DEFAULT_SUBQUERY_STEP_MS, memo: dict | None = None) -> None:
        self.store, self.t_ms, self.sem = store, t_ms, sem
        # start() and end() of the @ modifier: the query's own range (one instant here).
        self.query_range = query_range or (t_ms, t_ms)
        self.default_step_ms = default_step_ms
        self.memo = memo  # values at this instant (tick_cache.TickMemo.values), or None; a subquery's inner
        # evaluations run at other instants and never share it

    def at_ms(self, at: tuple[str, int] | None) -> int:
        """The instant an expression with this @ modifier is evaluated at."""
        if at is None:
            return self.t_ms
        kind, ms = at
        if kind == "at":
            return ms
        return self.query_range[0] if kind == "start" else self.query_range[1]

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

    def instant(self, sel: Selector, with_ts: bool = False) -> Vector:
        """Latest sample per series within the lookback; a trailing staleness marker hides it.

        with_ts: the sample's timestamp in seconds instead of its value (timestamp()).
        """
        ref = self.at_ms(sel.at) - sel.offset_ms
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
            out.append((labels, t / 1000 if with_ts else v))
        return out

    def windows(self, rng: Range | Subquery) -> list[Window]:
        if type(rng) is Subquery:
            return subquery_windows(self, rng)
        end = self.at_ms(rng.sel.at) - rng.sel.offset_ms
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
        if name == "pi":
            return math.pi
        rng = next((a for a in args if type(a) is Range or type(a) is Subquery), None)
        if rng is not None:
            return self.range_call(name, args, rng)
        if name == "absent":
            return [] if self.eval(args[0]) else [(functions.absent_labels(args[0]), 1.0)]
        if name == "histogram_quantile":
            return functions.histogram_quantile(sem, self.eval(args[0]), self.eval(args[1]))
        if name == "histogram_fraction":
            return functions.histogram_fraction(sem, self.eval(args[0]), self.eval(args[1]),
                                                self.eval(args[2]))
        if name in DATE_FUNCTIONS:
            vec = self.eval(args[0]) if args else [({}, self.t_ms / 1000)]
            return datefns.date_fn(sem, name, vec)
        if name == "timestamp":
            return self.timestamp(args[0])
        if name in LABEL_FUNCTIONS:
            return self.label_call(name, args)
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

    def timestamp(self, arg: object) -> Vector:
        # Of a selector: each sample's own time; of anything else: the evaluation time.
        if type(arg) is Selector:
            vec = self.instant(arg, with_ts=True)
        else:
            vec = [(labels, self.t_ms / 1000) for labels, _ in self.eval(arg)]
        return functions.check_unique([(drop_name(self.sem, labels), v) for labels, v in vec])

    def label_call(self, name: str, args: tuple) -> Vector:
        vec = self.eval(args[0])
        rest = [self.eval(a) for a in args[1:]]
        if name == "label_replace":
            out = labelfns.label_replace(self.sem, vec, *rest)
        elif name == "label_join":
            out = labelfns.label_join(self.sem, vec, rest[0], rest[1], rest[2:])
        elif name in ("sort", "sort_desc"):
            return labelfns.sort_by_value(vec, name == "sort_desc")
        else:
            return labelfns.sort_by_label(vec, rest, name == "sort_by_label_desc")
        return functions.check_unique(out)

    def range_call(self, name: str, args: tuple, rng: Range | Subquery) -> Vector:
        windows = self.windows(rng)
        if name == "absent_over_time":
            if any(w.count() for w in windows):
                return []
            sel = rng.sel if type(rng) is Range else None
            return [(functions.absent_labels(sel), 1.0)]
        param = None
        if name == "quantile_over_time":
            param = self.eval(args[0])
        elif name == "predict_linear":
            param = self.eval(args[1])
        elif name == "double_exponential_smoothing":
            param = (self.eval(args[1]), self.eval(args[2]))
            if not (0 < param[0] < 1) or not (0 < param[1] < 1):
                raise EvalError("invalid smoothing or trend factor: both must be between 0 and 1")
        # last_over_time and first_over_time act like an offset, so the name stays.
        keep_name = name in ("last_over_time", "first_over_time")
        out = []
        for w in windows:
            v = rangefns.apply(self.sem, name, w, param, self.t_ms)
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
