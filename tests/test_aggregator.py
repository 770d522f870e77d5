"""SeriesStore: retention bounds memory, the keep filter, ordering, staleness markers."""

from __future__ import annotations

import math
import struct
import sys

from console.metrics.store import STALE_NAN, SeriesStore, is_stale
from console.promql import evaluate


def _labels(name: str = "m", **extra: str) -> dict[str, str]:
    return {"__name__": name, **extra}


def test_retention_bounds_samples_and_drops_silent_series() -> None:
    store = SeriesStore(retention=600)
    store.add(_labels("gone"), 0, 1.0)  # reports once, then never again
    for t in range(7200):
        store.add_many([(_labels(i=str(i)), t, float(t)) for i in range(3)])
    # retention + 5 min lookback, plus at most one minute of not-yet-swept samples
    per_series = [len(s.ts) for _, s in store.series("m")]
    assert all(900 <= n <= 960 for n in per_series), per_series
    oldest = min(s.ts[0] for _, s in store.series())
    assert oldest >= (7199 - 600 - 300 - 60) * 1000
    assert list(store.series("gone")) == []
    assert len(store) == 3


def test_sample_count_and_clear() -> None:
    store = SeriesStore()
    assert store.add_many([(_labels(a="1"), 1.0, 1.0), (_labels(a="2"), 1.0, 2.0)]) == 2
    assert store.sample_count() == 2 and len(store) == 2
    store.clear()
    assert store.sample_count() == 0 and len(store) == 0 and list(store.series()) == []


def test_keep_filter_decides_at_ingestion() -> None:
    seen: list[str] = []

    def keep(name: str) -> bool:
        seen.append(name)
        return name.startswith("http_")

    store = SeriesStore(keep=keep)
    assert store.add(_labels("http_requests_total", code="200"), 1, 1.0)
    assert not store.add(_labels("go_gc_duration_seconds"), 1, 1.0)
    assert not store.add(_labels("go_gc_duration_seconds"), 2, 1.0)
    assert [labels["__name__"] for labels, _ in store.series()] == ["http_requests_total"]
    assert seen.count("go_gc_duration_seconds") == 1  # the decision is cached per name


def test_out_of_order_and_duplicate_timestamps_are_ignored() -> None:
    store = SeriesStore()
    assert store.add(_labels(), 10.0, 1.0)
    assert not store.add(_labels(), 10.0, 2.0)  # duplicate
    assert not store.add(_labels(), 9.0, 3.0)  # out of order
    assert store.add(_labels(), 10.001, 4.0)
    (_, s), = store.series("m")
    assert s.samples() == [(10.0, 1.0), (10.001, 4.0)]


def test_timestamps_are_integer_milliseconds() -> None:
    store = SeriesStore()
    store.add(_labels(), 1.0004, 1.0)
    store.add(_labels(), 1.0006, 2.0)  # rounds to 1001 ms
    (_, s), = store.series()
    assert list(s.ts) == [1000, 1001]


def test_empty_label_values_are_dropped() -> None:
    store = SeriesStore()
    store.add({"__name__": "m", "a": "", "b": "x"}, 1, 1.0)
    store.add({"__name__": "m", "b": "x"}, 2, 2.0)  # the same series
    assert len(store) == 1
    (labels, _), = store.series()
    assert labels == {"__name__": "m", "b": "x"}


def test_stale_marker_is_a_specific_nan() -> None:
    assert struct.unpack("<Q", struct.pack("<d", STALE_NAN))[0] == 0x7FF0000000000002
    assert is_stale(STALE_NAN)
    assert not is_stale(math.nan) and not is_stale(1.0) and not is_stale(math.inf)


def test_stale_marker_survives_storage_and_ends_the_series() -> None:
    store = SeriesStore()
    for t, v in [(0, 1.0), (15, 2.0), (30, STALE_NAN), (45, math.nan)]:
        store.add(_labels("a"), t, v)
    store.add(_labels("b"), 0, 1.0)
    store.add(_labels("b"), 15, STALE_NAN)
    (_, s), = store.series("a")
    assert is_stale(s.vals[2]) and not is_stale(s.vals[3])
    assert evaluate("b", store, 20) == []  # stale marker hides the earlier sample
    assert evaluate("b", store, 10) == [({"__name__": "b"}, 1.0)]
    # an ordinary NaN is a value; range functions drop only the marker
    (_, v), = evaluate("a", store, 50)
    assert math.isnan(v)
    assert evaluate("count_over_time(a[1m])", store, 50) == [({}, 3.0)]


def test_memory_per_sample_is_compact() -> None:
    store = SeriesStore(retention=3600)
    for t in range(3600):
        store.add_many([(_labels(i=str(i)), t, t * 1.5) for i in range(20)])
    total = 0
    for _, s in store.series():
        total += sum(sys.getsizeof(a) for a in (s.ts, s.vals, s.nans, s.resets))
    assert total / store.sample_count() < 20  # two 8-byte arrays plus growth slack


def test_sweep_is_spread_over_ingestion_calls() -> None:
    from console.metrics.store import SWEEP_BATCH

    store = SeriesStore(retention=60)
    n = 3 * SWEEP_BATCH + 10
    for t in range(0, 400, 10):  # 400 s of samples: past retention + lookback (360 s)
        store.add_many([(_labels(i=str(i)), t, 1.0) for i in range(n)])

    def trimmed() -> int:
        return sum(1 for _, s in store.series("m") if s.ts[0] > 0)

    # The first sweep was armed at t=60 with nothing old enough to drop; arm one that trims t=0..:
    swept = []
    for t in range(400, 480, 10):
        store.add_many([(_labels(i=str(i)), t, 1.0) for i in range(n)])
        swept.append(trimmed())
    steps = [b - a for a, b in zip([0] + swept, swept)]
    assert max(steps) <= SWEEP_BATCH, steps  # no call trims more than one batch
    assert swept[-1] == n  # and the pass completes within a few calls
    oldest = min(s.ts[0] for _, s in store.series())
    assert oldest >= (470 - 360 - 60) * 1000


def test_trimming_keeps_the_same_samples_and_a_full_window_never_reallocates() -> None:
    from array import array

    from console.metrics.store import drop_head

    for n, k in [(100, 1), (100, 15), (100, 16), (100, 37), (100, 50), (100, 51), (100, 100), (40, 17)]:
        a, b = array("q", range(n)), array("q", range(n))
        drop_head(a, k)
        del b[:k]
        assert a == b, (n, k)

    # a window that has filled keeps the buffer it filled: trimmed once a minute and refilled by the next minute's
    # samples, never reallocated (`del a[:k]` reallocated it *larger* at the first trim, moving it: holes in the
    # heap the size of every series, +25 % RSS measured once a store's windows were full)
    store = SeriesStore(retention=600)
    sizes = []
    for t in range(1800):
        store.add_many([(_labels(i=str(i)), t, float(t % 7)) for i in range(4)])
        if t == 0:
            (_, s), *_ = store.series("m")
        if t >= 950:  # full: the first trim comes at t=960
            sizes.append((sys.getsizeof(s.ts), sys.getsizeof(s.vals)))
    assert set(sizes) == {sizes[0]}
    assert [v for _, v in s.samples()[-3:]] == [float(t % 7) for t in range(1797, 1800)]
    assert s.ts[0] >= (1799 - 600 - 300 - 60) * 1000 and len(s.ts) <= 960
