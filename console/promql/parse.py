"""PromQL text → a small validated tree; everything the evaluator cannot do fails here, at load."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import promql_parser as pp

from .errors import UnsupportedQuery
from .regex import MatcherRegex, compile_matcher


def _unsupported(what: str) -> UnsupportedQuery:
    return UnsupportedQuery(f"unsupported PromQL: {what}")


# Argument types are checked by the parser; a range argument is a selector or a subquery.
RANGE_FUNCTIONS = frozenset({
    "rate", "increase", "delta", "irate", "idelta", "avg_over_time", "min_over_time",
    "max_over_time", "sum_over_time", "count_over_time", "last_over_time", "quantile_over_time",
    "stddev_over_time", "stdvar_over_time", "present_over_time", "absent_over_time", "resets",
    "changes", "deriv", "predict_linear", "mad_over_time", "first_over_time",
    "ts_of_min_over_time", "ts_of_max_over_time", "ts_of_last_over_time",
    "ts_of_first_over_time", "double_exponential_smoothing",
})
DATE_FUNCTIONS = frozenset({"year", "month", "day_of_month", "day_of_year", "day_of_week", "hour",
                            "minute", "days_in_month"})
FUNCTIONS = RANGE_FUNCTIONS | DATE_FUNCTIONS | {
    "histogram_quantile", "histogram_fraction", "abs", "ceil", "floor", "round", "sqrt", "exp",
    "ln", "log2", "log10", "sgn", "clamp", "clamp_min", "clamp_max", "scalar", "vector", "time",
    "absent", "label_replace", "label_join", "timestamp", "sort", "sort_desc", "sort_by_label",
    "sort_by_label_desc", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin",
    "sinh", "tan", "tanh", "deg", "rad", "pi",
}
AGGREGATIONS = {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
                "topk", "bottomk", "quantile", "count_values", "limitk", "limit_ratio"}
ARITHMETIC = {"+", "-", "*", "/", "%", "^", "atan2"}
COMPARISON = {"==", "!=", ">", "<", ">=", "<="}
SET_OPS = {"and", "or", "unless"}


@dataclass(frozen=True, slots=True)
class Num:
    value: float
    type = "scalar"


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    type = "string"


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str  # "=", "!=", "=~", "!~"
    value: str
    regex: MatcherRegex | None  # for =~ / !~, RE2 anchored as Prometheus anchors it
    regex_2x: MatcherRegex | None  # the same without (?s): before 3.0 "." did not match "\n"

    def matches(self, labels: dict[str, str], dot_all: bool = True) -> bool:
        v = labels.get(self.name, "")  # a missing label matches as the empty string
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        pattern = self.regex if dot_all else self.regex_2x
        hit = pattern.fullmatch(v) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True, slots=True)
class Selector:
    name: str | None
    matchers: tuple[Matcher, ...]  # includes a __name__ matcher when the name is given
    offset_ms: int
    type = "vector"
    at: tuple[str, int] | None = None  # ("at", ms) | ("start", 0) | ("end", 0): the @ modifier


@dataclass(frozen=True, slots=True)
class Range:
    sel: Selector
    range_ms: int
    type = "matrix"


@dataclass(frozen=True, slots=True)
class Subquery:
    """`expr[range:step]`: expr evaluated every step (0: the default step) inside the range."""

    expr: object
    range_ms: int
    step_ms: int
    offset_ms: int
    at: tuple[str, int] | None
    type = "matrix"


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple
    type: str


@dataclass(frozen=True, slots=True)
class Agg:
    op: str
    expr: object
    param: object | None
    without: bool  # False: by(labels) (no clause = by ()); True: without(labels)
    labels: tuple[str, ...]
    type = "vector"


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    lhs: object
    rhs: object
    return_bool: bool
    card: str  # "one-to-one", "many-to-one", "one-to-many", "many-to-many"
    on: bool  # True: on(labels); False: ignoring(labels) (also the default)
    match_labels: tuple[str, ...]
    include: tuple[str, ...]  # group_left/group_right labels
    type: str


@dataclass(frozen=True, slots=True)
class Neg:
    expr: object
    type: str


def _ms(td: timedelta | None) -> int:
    return 0 if td is None else round(td / timedelta(milliseconds=1))


# The binding's enums are not hashable, hence pairs searched with ==.
_OPS = [(pp.MatchOp.Equal, "="), (pp.MatchOp.NotEqual, "!="), (pp.MatchOp.Re, "=~"),
        (pp.MatchOp.NotRe, "!~")]
_CARD = [
    (pp.VectorMatchCardinality.OneToOne, "one-to-one"),
    (pp.VectorMatchCardinality.ManyToOne, "many-to-one"),
    (pp.VectorMatchCardinality.OneToMany, "one-to-many"),
    (pp.VectorMatchCardinality.ManyToMany, "many-to-many"),
]


def _lookup(pairs: list, key) -> str:
    return next(name for k, name in pairs if k == key)


def _matcher(m: pp.Matcher) -> Matcher:
    op = _lookup(_OPS, m.op)
    regex = regex_2x = None
    if op in ("=~", "!~"):
        regex, regex_2x = compile_matcher(m.value), compile_matcher(m.value, dot_all=False)
    return Matcher(m.name, op, m.value, regex, regex_2x)


def _at(at) -> tuple[str, int] | None:
    if at is None:
        return None
    if at.type == pp.AtModifierType.Start:
        return ("start", 0)
    if at.type == pp.AtModifierType.End:
        return ("end", 0)
    # The binding panics reading a time before 1970 (compile_expr refuses those) and prints
    # milliseconds: read its text.
    text = str(at).removeprefix("@").strip()
    return ("at", round(float(text) * 1000))


def _selector(vs: pp.VectorSelector) -> Selector:
    if vs.matchers.or_matchers:
        raise _unsupported("'or' in label matchers")
    matchers = [_matcher(m) for m in vs.matchers.matchers]
    if vs.name is not None:
        matchers.insert(0, Matcher("__name__", "=", vs.name, None, None))
    name = vs.name
    if name is None:  # {__name__="x"} still narrows the lookup
        name = next((m.value for m in matchers if m.name == "__name__" and m.op == "="), None)
    return Selector(name, tuple(matchers), _ms(vs.offset), _at(vs.at))


def _call(e: pp.Call) -> Call:
    name = e.func.name
    if name not in FUNCTIONS:
        raise _unsupported(f"function {name!r}")
    args = tuple(_convert(a) for a in e.args)
    ret = "scalar" if name in ("scalar", "time", "pi") else "vector"
    return Call(name, args, ret)


def _agg(e: pp.AggregateExpr) -> Agg:
    op = str(e.op)
    if op not in AGGREGATIONS:
        raise _unsupported(f"aggregation {op!r}")
    param = None if e.param is None else _convert(e.param)
    without, labels = False, ()
    if e.modifier is not None:
        without = e.modifier.type == pp.AggModifierType.Without
        labels = tuple(e.modifier.labels)
    return Agg(op, _convert(e.expr), param, without, labels)


def _binary(e: pp.BinaryExpr) -> Binary:
    op = str(e.op)
    if op not in ARITHMETIC | COMPARISON | SET_OPS:
        raise _unsupported(f"operator {op!r}")
    lhs, rhs = _convert(e.lhs), _convert(e.rhs)
    m = e.modifier
    return_bool, card, on, match_labels, include = False, "one-to-one", False, (), ()
    if m is not None:
        fill = m.fill_values
        if fill is not None and (fill.lhs is not None or fill.rhs is not None):
            raise _unsupported("fill modifier")
        return_bool = bool(m.return_bool)
        card = _lookup(_CARD, m.card)
        if m.matching is not None:
            on = m.matching.type == pp.LabelModifierType.Include
            match_labels = tuple(m.matching.labels)
        include = tuple(m.group_labels or ())
    if op in SET_OPS:
        card = "many-to-many"
    both_scalar = lhs.type == "scalar" and rhs.type == "scalar"
    return Binary(op, lhs, rhs, return_bool, card, on, match_labels, include,
                  "scalar" if both_scalar else "vector")


def _convert(e) -> object:
    if isinstance(e, pp.ParenExpr):
        return _convert(e.expr)
    if isinstance(e, pp.NumberLiteral):
        return Num(float(e.val))
    if isinstance(e, pp.StringLiteral):
        return Str(e.val)
    if isinstance(e, pp.VectorSelector):
        return _selector(e)
    if isinstance(e, pp.MatrixSelector):
        return Range(_selector(e.vector_selector), _ms(e.range))
    if isinstance(e, pp.SubqueryExpr):
        return Subquery(_convert(e.expr), _ms(e.range), _ms(e.step), _ms(e.offset), _at(e.at))
    if isinstance(e, pp.Call):
        return _call(e)
    if isinstance(e, pp.AggregateExpr):
        return _agg(e)
    if isinstance(e, pp.BinaryExpr):
        return _binary(e)
    if isinstance(e, pp.UnaryExpr):
        inner = _convert(e.expr)
        return Neg(inner, inner.type)
    raise _unsupported(f"expression {type(e).__name__}")


_NEGATIVE_AT = re.compile(r"@\s*-")


@lru_cache(maxsize=1024)
def compile_expr(expr: str) -> object:
    """Parse and validate once; the tree is immutable so it is cached by the text."""
    if _NEGATIVE_AT.search(expr):
        raise _unsupported("@ with a time before 1970")  # the binding reads it as 0
    try:
        tree = pp.parse(expr)
    except ValueError as e:
        raise UnsupportedQuery(f"PromQL parse error: {e}") from e
    node = _convert(tree)
    if node.type not in ("vector", "scalar"):
        kind = "range vector" if node.type == "matrix" else node.type
        raise _unsupported(f"top-level {kind} (a rule must yield an instant vector or a scalar)")
    return node


def check(expr: str) -> None:
    """Raise UnsupportedQuery unless `expr` parses and only uses supported constructs."""
    compile_expr(expr)
