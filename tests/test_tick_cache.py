"""The per-tick memo: shared subexpressions are computed once, and never served after the store changed."""

from __future__ import annotations

from console.metrics.store import SeriesStore
from console.promql import TickMemo, evaluate


def _store() -> SeriesStore:
    store = SeriesStore()
    for t in range(0, 600, 15):
        store.add_many([({"__name__": "req_total", "job": "a", "code": c}, float(t), t * k)
                        for c, k in (("200", 10.0), ("500", 1.0))])
    return store


EXPRS = [
    'sum by (code) (rate(req_total{job="a"}[5m]))',
    'sum(rate(req_total{job="a", code="500"}[5m])) / sum(rate(req_total{job="a"}[5m]))',
    'sum(rate(req_total{job="a"}[5m])) > 1',
]


def test_memoized_answers_equal_fresh_ones() -> None:
    store, memo = _store(), TickMemo()
    for e in EXPRS:
        assert evaluate(e, store, 585.0, memo=memo) == evaluate(e, store, 585.0)
    assert evaluate(EXPRS[1], store, 585.0, memo=memo) == [({}, 1 / 11)]


def test_a_new_sample_or_another_instant_is_not_served_from_the_memo() -> None:
    store, memo = _store(), TickMemo()
    before = evaluate('sum(req_total{job="a"})', store, 585.0, memo=memo)
    assert before == [({}, 585 * 11.0)]
    store.add({"__name__": "req_total", "job": "a", "code": "404"}, 586.0, 5.0)
    assert evaluate('sum(req_total{job="a"})', store, 586.0, memo=memo) == [({}, 585 * 11.0 + 5)]
    assert evaluate('sum(req_total{job="a"})', store, 585.0, memo=memo) == before  # 404 arrived at 586
    store.add({"__name__": "req_total", "job": "a", "code": "200"}, 600.0, 0.0)  # same instant, new data
    assert evaluate('sum(req_total{job="a"})', store, 600.0, memo=memo) == [({}, 585 + 5.0)]
    store.add({"__name__": "req_total", "job": "a", "code": "500"}, 600.0, 7.0)
    assert evaluate('sum(req_total{job="a"})', store, 600.0, memo=memo) == [({}, 12.0)]
