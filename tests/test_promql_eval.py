"""Evaluator behaviour by hand: load-time errors, the 2.42 / 3.x differences, matching, names."""

from __future__ import annotations

import math

import pytest

from console.metrics.store import SeriesStore
from console.promql import EvalError, UnsupportedQuery, check, evaluate


def store_of(series: dict[str, list[tuple[float, float]]]) -> SeriesStore:
    """{'name{a="b"}': [(t, v), ...]} → store."""
    import promql_parser

    store = SeriesStore(retention=1e9)
    for selector, samples in series.items():
        sel = promql_parser.parse(selector)
        labels = {"__name__": sel.name, **{m.name: m.value for m in sel.matchers.matchers}}
        for t, v in samples:
            store.add(labels, t, v)
    return store


def values(result) -> dict[tuple, float]:
    return {tuple(sorted(labels.items())): v for labels, v in result}


# --- load-time errors ---

@pytest.mark.parametrize("expr,message", [
    ("histogram_count(x)", "unsupported PromQL: function 'histogram_count'"),
    ("x @ -100", "unsupported PromQL: @ with a time before 1970"),
    ("x[5m]", "unsupported PromQL: top-level range vector"),
    ('"text"', "unsupported PromQL: top-level string"),
    ('x{a="1" or b="2"}', "unsupported PromQL: 'or' in label matchers"),
])
def test_check_names_the_unsupported_construct(expr: str, message: str) -> None:
    with pytest.raises(UnsupportedQuery) as err:
        check(expr)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("expr,fragment", [
    ("sum(rate(x[5m])", "unclosed left parenthesis"),
    ("rate(x)", "expected type matrix in call to function 'rate'"),
    ("1 > 2", "comparisons between scalars must use BOOL modifier"),
    ("nosuchfn(x)", "unknown function"),
    ('x{a=~"("}', "illegal regex"),
    ("x +", "PromQL parse error"),
])
def test_check_reports_parse_errors(expr: str, fragment: str) -> None:
    with pytest.raises(UnsupportedQuery, match="PromQL parse error") as err:
        check(expr)
    assert fragment in str(err.value)


@pytest.mark.parametrize("expr,fragment", [
    ('x{a=~"a*+"}', "invalid regular expression 'a*+': bad repetition operator: *+"),
    ('x{a!~"x++"}', "invalid regular expression 'x++': bad repetition operator: ++"),
    ('x{a=~"a{1001}"}', "invalid repetition size: {1001}"),
])
def test_a_regex_re2_rejects_is_a_load_error(expr: str, fragment: str) -> None:
    with pytest.raises(UnsupportedQuery) as err:
        check(expr)
    assert fragment in str(err.value)


def test_regex_matchers_have_re2_semantics_anchored_whole() -> None:
    # Python's re compiled [[:alpha:]] as a character class of ":[alph" and rejected \pL.
    store = store_of({'x{a="abc"}': [(0, 1.0)], 'x{a="héllo"}': [(0, 2.0)],
                      'x{a="ab1"}': [(0, 3.0)], 'x{a="a\\nb"}': [(0, 4.0)]})
    assert values(evaluate('x{a=~"[[:alpha:]]+"}', store, 10)) == {
        (("__name__", "x"), ("a", "abc")): 1.0}
    assert sorted(v for _, v in evaluate('x{a=~"\\\\pL+"}', store, 10)) == [1.0, 2.0]
    assert [v for _, v in evaluate('x{a=~"b"}', store, 10)] == []  # anchored: a part is no match
    assert sorted(v for _, v in evaluate('x{a!~"a.*"}', store, 10)) == [2.0]


def test_unsupported_query_is_a_value_error_and_evaluate_raises_it_too() -> None:
    assert issubclass(UnsupportedQuery, ValueError)
    with pytest.raises(UnsupportedQuery):
        evaluate("histogram_avg(x)", SeriesStore(), 0)
    with pytest.raises(ValueError, match="unknown semantics"):
        evaluate("x", SeriesStore(), 0, semantics="prometheus-1")


# --- where 2.42 and 3.x differ ---

def test_lookback_is_left_open_in_3_and_closed_in_2() -> None:
    store = store_of({"x": [(0, 7.0)]})
    assert evaluate("x", store, 300) == []
    assert evaluate("x", store, 300, semantics="prometheus-2") == [({"__name__": "x"}, 7.0)]
    assert evaluate("x", store, 299.999) == [({"__name__": "x"}, 7.0)]


def test_range_window_is_left_open_in_3_and_closed_in_2() -> None:
    store = store_of({"x": [(t, 1.0) for t in range(0, 121, 60)]})
    assert evaluate("count_over_time(x[1m])", store, 120) == [({}, 1.0)]
    assert evaluate("count_over_time(x[1m])", store, 120, semantics="prometheus-2") == [({}, 2.0)]
    assert evaluate("count_over_time(x[1m] offset 1m)", store, 180, semantics="prometheus-2") == [({}, 2.0)]


def test_zero_floor_ordering_differs() -> None:
    # First sample 2 intervals after the window start and low: 2.42 extrapolates to the zero
    # point (48 s) because it clamps before the 1.1x test; 3.x extrapolates half an interval.
    store = store_of({"c": [(180, 8.0), (240, 18.0), (300, 28.0), (360, 38.0)]})
    assert evaluate("increase(c[5m])", store, 360, semantics="prometheus-2") == [({}, 38.0)]
    assert evaluate("increase(c[5m])", store, 360) == [({}, 35.0)]


def test_sum_is_kahan_summed_in_3_only() -> None:
    store = store_of({f'x{{i="{i}"}}': [(0, v)] for i, v in enumerate([1e16, 1.0, 1.0, 1.0])})
    assert evaluate("sum(x)", store, 0) == [({}, 1.0000000000000004e16)]
    assert evaluate("sum(x)", store, 0, semantics="prometheus-2") == [({}, 1e16)]


def test_histogram_quantile_ignores_float_noise_in_3_only() -> None:
    noisy = 1e12 + 0.5  # a relative step below 1e-12
    store = store_of({'h_bucket{le="1"}': [(0, 1e12)], 'h_bucket{le="2"}': [(0, noisy)],
                      'h_bucket{le="+Inf"}': [(0, noisy)]})
    assert evaluate("histogram_quantile(1, h_bucket)", store, 0) == [({}, 1.0)]
    assert evaluate("histogram_quantile(1, h_bucket)", store, 0, semantics="prometheus-2") == [({}, 2.0)]


def test_atan2_drops_the_name_in_3_only() -> None:
    store = store_of({"x": [(0, 1.0)]})
    assert evaluate("x atan2 1", store, 0)[0][0] == {}
    assert evaluate("x atan2 1", store, 0, semantics="prometheus-2")[0][0] == {"__name__": "x"}


def test_regex_dot_matches_newline_in_3_only() -> None:
    store = SeriesStore()
    store.add({"__name__": "msg", "text": "a\nb"}, 0, 1.0)
    assert len(evaluate('msg{text=~"a.b"}', store, 0)) == 1
    assert evaluate('msg{text=~"a.b"}', store, 0, semantics="prometheus-2") == []


# --- rates, by hand ---

def test_rate_extrapolates_to_the_window_edges() -> None:
    # One per 10 s, value = t, from 100 to 200: 1/s.
    store = store_of({"c": [(t, float(t)) for t in range(100, 201, 10)]})
    # Samples 110..200 in (105, 205]: 5 s gaps to both edges (< 1.1 x 10 s) are extrapolated.
    assert evaluate("rate(c[100s])", store, 205) == [({}, 1.0)]
    # Samples 140..200 in (130, 230]: 10 s at the start is extrapolated, but the 30 s gap at
    # the end is over the threshold, so only half an interval (5 s) is: 60 * 75/60 / 100.
    assert evaluate("rate(c[100s])", store, 230) == [({}, 0.75)]
    assert evaluate("delta(c[100s])", store, 230) == [({}, 75.0)]


def test_counter_reset_is_added_back() -> None:
    store = store_of({"c": [(0, 5.0), (60, 10.0), (120, 2.0), (180, 6.0)]})
    # 5 -> 10 (+5), reset to 2 (+2), -> 6 (+4); the window [0, 180] is fully covered.
    assert evaluate("increase(c[3m])", store, 180, semantics="prometheus-2") == [({}, 11.0)]
    assert evaluate("irate(c[2m])", store, 180) == [({}, 4.0 / 60)]
    assert evaluate("resets(c[5m])", store, 180) == [({}, 1.0)]


def test_fewer_than_two_samples_give_no_rate() -> None:
    store = store_of({"c": [(0, 5.0)]})
    assert evaluate("rate(c[5m])", store, 60) == []
    assert evaluate("irate(c[5m])", store, 60) == []


# --- names, matching, scalars ---

def test_metric_name_dropping() -> None:
    store = store_of({'x{a="1"}': [(0, 2.0), (30, 3.0)]})
    assert evaluate("rate(x[1m])", store, 30)[0][0] == {"a": "1"}
    assert evaluate("last_over_time(x[1m])", store, 30)[0][0] == {"__name__": "x", "a": "1"}
    assert evaluate("x > 1", store, 30)[0][0] == {"__name__": "x", "a": "1"}
    assert evaluate("x > bool 1", store, 30) == [({"a": "1"}, 1.0)]
    assert evaluate("x + 1", store, 30) == [({"a": "1"}, 4.0)]
    assert evaluate("abs(-x)", store, 30) == [({"a": "1"}, 3.0)]
    assert evaluate("1 < x", store, 30) == [({"__name__": "x", "a": "1"}, 3.0)]


def test_scalars_and_time() -> None:
    store = SeriesStore()
    assert evaluate("1 + 2 * 3", store, 0) == [({}, 7.0)]
    assert evaluate("time()", store, 12.5) == [({}, 12.5)]
    assert evaluate("2 ^ 0.5 > bool 1", store, 0) == [({}, 1.0)]
    (_, v), = evaluate("scalar(nothing)", store, 0)
    assert math.isnan(v)
    assert evaluate("1 / 0", store, 0) == [({}, math.inf)]
    assert math.isnan(evaluate("0 / 0", store, 0)[0][1])
    assert math.isnan(evaluate("5 % 0", store, 0)[0][1])


def test_one_to_one_and_group_left_matching() -> None:
    store = store_of({
        'errors{job="a",code="500"}': [(0, 2.0)], 'errors{job="a",code="503"}': [(0, 4.0)],
        'total{job="a"}': [(0, 8.0)], 'info{job="a",team="x"}': [(0, 1.0)],
    })
    assert values(evaluate("errors / ignoring(code) group_left total", store, 0)) == {
        (("code", "500"), ("job", "a")): 0.25, (("code", "503"), ("job", "a")): 0.5}
    assert evaluate("total * on(job) group_left(team) info", store, 0) == [({"job": "a", "team": "x"}, 8.0)]
    assert evaluate("sum(errors) / on() total", store, 0) == [({}, 0.75)]
    with pytest.raises(EvalError, match="many-to-one matching must be explicit"):
        evaluate("errors / ignoring(code) total", store, 0)
    with pytest.raises(EvalError, match="many-to-many matching not allowed"):
        evaluate("total / ignoring(code) errors", store, 0)


def test_set_operators() -> None:
    store = store_of({'up{job="a"}': [(0, 1.0)], 'up{job="b"}': [(0, 0.0)], 'load{job="a"}': [(0, 3.0)]})
    assert values(evaluate("up and on(job) load", store, 0)) == {(("__name__", "up"), ("job", "a")): 1.0}
    assert values(evaluate("up unless on(job) load", store, 0)) == {(("__name__", "up"), ("job", "b")): 0.0}
    assert len(evaluate("load or up", store, 0)) == 2  # up{job="a"} matches load{job="a"} (names ignored)


def test_duplicate_label_sets_after_dropping_names_fail() -> None:
    store = store_of({'a{x="1"}': [(0, 1.0), (60, 2.0)], 'b{x="1"}': [(0, 1.0), (60, 2.0)]})
    with pytest.raises(EvalError, match="same labelset"):
        evaluate('rate({__name__=~"a|b"}[5m])', store, 60)
    assert len(evaluate('{__name__=~"a|b"}', store, 60)) == 2


def test_regex_matchers_are_anchored() -> None:
    store = store_of({'x{p="/api/v1"}': [(0, 1.0)], 'x{p="/api"}': [(0, 2.0)]})
    assert [v for _, v in evaluate('x{p=~"/api"}', store, 0)] == [2.0]
    assert [v for _, v in evaluate('x{p!~"/api"}', store, 0)] == [1.0]
    assert len(evaluate('x{q=""}', store, 0)) == 2  # a missing label equals ""


def test_aggregations() -> None:
    store = store_of({f'x{{i="{i}",g="{i % 2}"}}': [(0, float(i))] for i in range(5)})
    assert values(evaluate("sum by (g) (x)", store, 0)) == {(("g", "0"),): 6.0, (("g", "1"),): 4.0}
    assert values(evaluate("count without (i) (x)", store, 0)) == {(("g", "0"),): 3.0, (("g", "1"),): 2.0}
    assert evaluate("avg(x)", store, 0) == [({}, 2.0)]
    assert evaluate("max(x) - min(x)", store, 0) == [({}, 4.0)]
    assert evaluate("quantile(0.5, x)", store, 0) == [({}, 2.0)]
    assert evaluate("stddev(x)", store, 0) == [({}, math.sqrt(2.0))]
    assert [v for _, v in evaluate("topk(2, x)", store, 0)] == [4.0, 3.0]
    assert [v for _, v in evaluate("bottomk by (g) (1, x)", store, 0)] == [0.0, 1.0]


def test_histogram_quantile_rules() -> None:
    store = store_of({'h_bucket{le="1"}': [(0, 2.0)], 'h_bucket{le="1.0"}': [(0, 2.0)],
                      'h_bucket{le="2"}': [(0, 8.0)], 'h_bucket{le="+Inf"}': [(0, 8.0)],
                      'n_bucket{le="1"}': [(0, 1.0)], 'n_bucket{le="2"}': [(0, 2.0)],
                      'z_bucket{le="-1"}': [(0, 3.0)], 'z_bucket{le="+Inf"}': [(0, 4.0)]})
    # "1" and "1.0" are one bucket (4 observations); the lowest bucket interpolates from 0.
    assert evaluate("histogram_quantile(0.25, h_bucket)", store, 0) == [({}, 0.5)]
    assert evaluate("histogram_quantile(0.75, h_bucket)", store, 0) == [({}, 1.5)]
    assert evaluate("histogram_quantile(1, h_bucket)", store, 0) == [({}, 2.0)]
    assert math.isnan(evaluate("histogram_quantile(0.5, n_bucket)", store, 0)[0][1])  # no +Inf
    assert evaluate("histogram_quantile(0.5, z_bucket)", store, 0) == [({}, -1.0)]  # upper <= 0
    assert evaluate("histogram_quantile(-1, h_bucket)", store, 0) == [({}, -math.inf)]
    assert evaluate("histogram_quantile(2, h_bucket)", store, 0) == [({}, math.inf)]


def test_absent() -> None:
    store = store_of({'up{job="a"}': [(0, 1.0)]})
    assert evaluate('absent(up{job="a"})', store, 0) == []
    assert evaluate('absent(up{job="b",env=~"p.*"})', store, 0) == [({"job": "b"}, 1.0)]
    assert evaluate('absent_over_time(up{job="a"}[1m])', store, 120) == [({"job": "a"}, 1.0)]


def test_subquery_steps_kept_between_ticks_give_what_a_fresh_evaluation_gives() -> None:
    # The finished steps of a subquery are reused on the next tick (console/promql/subquery.py);
    # the answer must be the one a store that never evaluated anything gives.
    def fill(store, until):
        for t in range(0, until + 1, 10):
            store.add({"__name__": "c_total", "k": "a"}, t, t * 1.5 + (t % 70))
            store.add({"__name__": "c_total", "k": "b"}, t, t * 0.5)

    expr = "max_over_time(rate(c_total[2m])[20m:1m]) - min_over_time(deriv(c_total[3m])[15m:30s])"
    live = SeriesStore(retention=1e9)
    fill(live, 3000)
    evaluate(expr, live, 3000)  # fills the step cache
    for t in range(3010, 3300, 10):  # samples keep arriving, ticks keep evaluating
        live.add({"__name__": "c_total", "k": "a"}, t, t * 1.5 + (t % 70))
        live.add({"__name__": "c_total", "k": "b"}, t, t * 0.5)
        fresh = SeriesStore(retention=1e9)
        fill(fresh, t)
        assert values(evaluate(expr, live, t)) == values(evaluate(expr, fresh, t))
