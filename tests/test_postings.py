"""The label postings select exactly what a scan of every series selects, under churn and sweeps."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from console.metrics.store import SeriesStore
from console.promql import evaluate
from console.promql.parse import compile_expr

NAMES = ["m", "n"]
LABELS = ["a", "b", "c"]
VALUES = ["", "x", "y", "xy", "x\ny", "10.0.0.1:80"]
# Regexes that match "" and ones that do not, anchored or not, with "." (which differs on "\n").
PATTERNS = ["x", "x.*", ".*", "", "|x", "y|", ".+", "x.y", "[xy]+", "10\\..*", "(?:x|y)?"]

label_sets = st.fixed_dictionaries(
    {"__name__": st.sampled_from(NAMES)},
    optional={k: st.sampled_from(VALUES) for k in LABELS},
)
matcher = st.one_of(
    st.tuples(st.sampled_from(LABELS), st.sampled_from(["=", "!="]), st.sampled_from(VALUES)),
    st.tuples(st.sampled_from(LABELS), st.sampled_from(["=~", "!~"]), st.sampled_from(PATTERNS)),
)


def _selector(name: str | None, matchers: list[tuple[str, str, str]]) -> str:
    body = [f"{k}{op}{json.dumps(v)}" for k, op, v in matchers]
    if name is None:  # no metric name: the __name__ regex keeps the selector valid PromQL
        return "{" + ", ".join(['__name__=~"m|n"'] + body) + "}"
    return name + "{" + ", ".join(body) + "}"


def _scan(store: SeriesStore, name: str | None, matchers, dot_all: bool) -> list[dict]:
    return [labels for labels, _ in store.series(name) if all(m.matches(labels, dot_all) for m in matchers)]


@settings(max_examples=300, deadline=None)
@given(
    old=st.lists(label_sets, max_size=25),
    new=st.lists(label_sets, max_size=25),
    name=st.sampled_from(NAMES + [None]),
    matchers=st.lists(matcher, max_size=3),
    dot_all=st.booleans(),
)
def test_index_selects_what_a_scan_selects(old, new, name, matchers, dot_all) -> None:
    store = SeriesStore(retention=60)
    store.add_many((labels, 0.0, 1.0) for labels in old)
    sel = compile_expr(_selector(name, matchers))
    before = store.select(sel.name, sel.matchers, dot_all)
    assert [labels for labels, _ in before] == _scan(store, sel.name, sel.matchers, dot_all)
    # Later the old series go silent and are swept away while new ones arrive: the postings
    # must forget the dropped ones and the cached selection must not be served stale.
    store.add_many((labels, 1000.0, 2.0) for labels in new)
    store.sweep()
    after = store.select(sel.name, sel.matchers, dot_all)
    assert [labels for labels, _ in after] == _scan(store, sel.name, sel.matchers, dot_all)
    assert all(not any(v == "" for v in labels.values()) for labels, _ in after)


def test_empty_value_semantics_through_promql() -> None:
    store = SeriesStore()
    store.add_many([
        ({"__name__": "m", "a": "x"}, 10.0, 1.0),
        ({"__name__": "m", "a": "y"}, 10.0, 2.0),
        ({"__name__": "m", "b": "x"}, 10.0, 4.0),  # no `a` at all
        ({"__name__": "m", "a": "", "b": "y"}, 10.0, 8.0),  # an empty `a` is no `a`
    ])

    def total(expr: str) -> float:
        return sum(v for _, v in evaluate(f"sum({expr})", store, 10.0))

    assert total('m{a=""}') == 12  # the two without `a`
    assert total('m{a!=""}') == 3
    assert total('m{a!="x"}') == 14  # y, and both without `a`
    assert total('m{a=~"x|"}') == 13
    assert total('m{a!~"x|"}') == 2
    assert total('m{a!~"x"}') == 14
    assert total('m{a=~".*"}') == 15
    assert total('m{a=~".+"}') == 3
    assert total('{__name__=~"m", b=~".+", a!="z"}') == 12


def test_new_series_reach_a_cached_selection() -> None:
    store = SeriesStore()
    store.add({"__name__": "up", "job": "a"}, 1.0, 1.0)
    assert [l for l, _ in evaluate('up{job=~"a|b"}', store, 1.0)] == [{"__name__": "up", "job": "a"}]
    store.add({"__name__": "up", "job": "b"}, 2.0, 0.0)
    assert sorted(l["job"] for l, _ in evaluate('up{job=~"a|b"}', store, 2.0)) == ["a", "b"]
