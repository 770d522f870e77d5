"""Per-series windowed sample storage with bounded memory: the local TSDB the PromQL evaluator reads."""

from __future__ import annotations

import struct
from array import array
from itertools import compress, count
from math import isnan
from operator import gt, lt
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator

from .postings import Postings

# Prometheus' staleness marker: a NaN with a specific payload (value.StaleNaN).
STALE_NAN_BITS = 0x7FF0000000000002
_STALE_BYTES = struct.pack("<Q", STALE_NAN_BITS)
STALE_NAN: float = struct.unpack("<d", _STALE_BYTES)[0]

# Keep this much beyond the retention so an instant lookup at the window's start still works.
LOOKBACK_SLACK_S = 300.0
# Trim at most once per this much data time: trimming is a memmove, so it is batched.
_SWEEP_EVERY_MS = 60_000
# Series trimmed per ingestion call while a sweep is armed: ~1 ms of work at 1 h of 1 s samples.
SWEEP_BATCH = 500
_MAX_SELECTIONS = 4096


def is_stale(v: float) -> bool:
    """True only for the staleness-marker NaN (an ordinary NaN is a real value)."""
    return v != v and struct.pack("<d", v) == _STALE_BYTES


class Series:
    """One series: parallel arrays of int-millisecond timestamps and float values.

    `nans` and `resets` hold absolute sample numbers (position + `base`) of NaN values and of
    decreases (v[i] < v[i-1]); they let range functions skip a Python loop over the window
    when it holds no NaN, which is what makes rate over 1 h of 1 s samples cheap.
    """

    __slots__ = ("labels", "ts", "vals", "nans", "resets", "base")

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.ts = array("q")
        self.vals = array("d")
        self.nans = array("q")
        self.resets = array("q")
        self.base = 0  # absolute number of ts[0]

    def append(self, t_ms: int, v: float) -> bool:
        ts = self.ts
        if ts and t_ms <= ts[-1]:
            return False  # out of order or duplicate: Prometheus rejects these too
        n = len(ts) + self.base
        if v != v:
            self.nans.append(n)
        elif ts and v < self.vals[-1]:
            self.resets.append(n)
        ts.append(t_ms)
        self.vals.append(v)
        return True

    def trim_before(self, cutoff_ms: int) -> None:
        """Drop samples with timestamps < cutoff_ms."""
        k = bisect_left(self.ts, cutoff_ms)
        if not k:
            return
        drop_head(self.ts, k)
        drop_head(self.vals, k)
        self.base += k
        for marks in (self.nans, self.resets):
            j = bisect_left(marks, self.base)
            if j:
                del marks[:j]

    # --- window helpers used by the evaluator (indexes are positions into ts/vals) ---

    def window(self, lo_ms: int, hi_ms: int, left_open: bool) -> tuple[int, int]:
        """Positions [a, b) of samples in (lo, hi] (left_open) or [lo, hi]."""
        ts = self.ts
        a = bisect_right(ts, lo_ms) if left_open else bisect_left(ts, lo_ms)
        return a, bisect_right(ts, hi_ms)

    def has_nan(self, a: int, b: int) -> bool:
        marks, base = self.nans, self.base
        return bisect_left(marks, a + base) < bisect_left(marks, b + base)

    def reset_positions(self, a: int, b: int) -> list[int]:
        """Positions r in (a, b) where vals[r] < vals[r-1] (both inside the window)."""
        marks, base = self.resets, self.base
        lo, hi = bisect_right(marks, a + base), bisect_left(marks, b + base)
        return [marks[i] - base for i in range(lo, hi)]

    def samples(self) -> list[tuple[float, float]]:
        """(seconds, value) pairs, oldest first; for inspection and tests."""
        return [(t / 1000.0, v) for t, v in zip(self.ts, self.vals)]


def drop_head(a: array, k: int) -> None:
    """`del a[:k]`, keeping the array's buffer when most of it stays.

    `del a[:k]` (k >= 16) makes CPython resize the buffer to the new length plus a sixteenth: for a window that
    filled by appends that is *larger* than the buffer it had, so the first sweep moves every series' arrays into
    new buffers and leaves the old ones as holes no array fits — measured on 266 series at 1 s, RSS rose from 29
    to 38 MiB for the same 1.04 M samples once trimming began, and stayed there. Moving the kept samples to the
    front and shortening the tail 15 at a time (CPython keeps the buffer for a shrink of fewer than 16 items)
    leaves each array in the buffer it filled, which the next minute's appends fill again: 30 MiB, flat. A series
    losing most of its samples gives the memory back as before."""
    n = len(a)
    if 2 * k > n:
        del a[:k]
        return
    a[: n - k] = a[k:]
    while k:
        step = min(15, k)
        del a[n - step:]
        n -= step
        k -= step


def _key(labels: dict[str, str]) -> tuple:
    return tuple(sorted(labels.items()))


class SeriesStore:
    """Series keyed by their label set, indexed by metric name and label postings, trimmed to the retention.

    Trimming is incremental: once a minute of data time a sweep is armed, and each later ingestion
    call trims at most `SWEEP_BATCH` series, so no single call stalls the event loop for long.
    """

    sweep_batch = SWEEP_BATCH  # a bench sets it unbounded to measure the one-shot sweep it replaced

    def __init__(self, retention: float = 3600.0, keep: Callable[[str], bool] | None = None) -> None:
        self.retention = float(retention)
        self._keep = keep
        self._keep_cache: dict[str, bool] = {}
        self._series: dict[tuple, Series] = {}
        self._by_name: dict[str, dict[tuple, Series]] = {}
        self._postings: dict[str, Postings] = {}
        self._by_id: dict[int, Series] = {}
        self._keys: dict[int, tuple] = {}
        self._next_id = 0
        # Selections are cached until the series of their metric name change (a new or a dropped
        # series bumps the name's generation); in steady state a rule's selector is one lookup.
        self._gen: dict[str, int] = {}
        self._gen_all = 0
        self._selections: dict[tuple, tuple[int, list]] = {}
        self.version = 0  # changes whenever what an evaluation could read changes (tick_cache keys on it)
        self.newest_ms: int | None = None
        self._next_sweep_ms: int | None = None
        self._pending: list[int] = []  # ids still to trim in the armed sweep
        self._cutoff_ms = 0

    def __len__(self) -> int:
        return len(self._series)

    def _keeps(self, name: str) -> bool:
        if self._keep is None:
            return True
        decision = self._keep_cache.get(name)
        if decision is None:
            decision = self._keep_cache[name] = bool(self._keep(name))
        return decision

    def _get(self, labels: dict[str, str]) -> Series | None:
        if "" in labels.values():  # an empty label value is no label at all, as in Prometheus
            labels = {k: v for k, v in labels.items() if v}
        key = _key(labels)
        s = self._series.get(key)
        if s is None:
            name = labels.get("__name__", "")
            if not self._keeps(name):
                return None
            s = self._series[key] = Series(dict(labels))
            self._by_name.setdefault(name, {})[key] = s
            sid = self._next_id
            self._next_id += 1
            self._by_id[sid], self._keys[sid] = s, key
            self._postings.setdefault(name, Postings()).add(sid, s.labels)
            self._changed(name)
        return s

    def _changed(self, name: str) -> None:
        self._gen[name] = self._gen.get(name, 0) + 1
        self._gen_all += 1

    def add(self, labels: dict[str, str], ts: float, value: float) -> bool:
        """Store one sample; False when it was filtered out or out of order."""
        s = self._get(labels)
        if s is None:
            return False
        t_ms = round(ts * 1000)
        if not s.append(t_ms, float(value)):
            return False
        self.version += 1
        self._advance(t_ms)
        return True

    def add_many(self, samples: Iterable[tuple[dict[str, str], float, float]]) -> int:
        """Store (labels, ts, value) triples; returns how many were accepted."""
        accepted, newest = 0, None
        for labels, ts, value in samples:
            s = self._get(labels)
            if s is None:
                continue
            t_ms = round(ts * 1000)
            if s.append(t_ms, float(value)):
                accepted += 1
                if newest is None or t_ms > newest:
                    newest = t_ms
        if newest is not None:
            self.version += 1
            self._advance(newest)
        return accepted

    def load(self, labels: dict[str, str], t_ms: list[int], values: list[float]) -> int:
        """Append one series' samples, oldest first, exactly as `add` one at a time would (a replay seek loading
        a window from arrays); returns how many were accepted."""
        s = self._get(labels)
        if s is None or not t_ms:
            return 0
        ts, vals, nans, resets = s.ts, s.vals, s.nans, s.resets
        if (not ts or t_ms[0] > ts[-1]) and all(map(lt, t_ms, t_ms[1:])):
            # in order, as a window read from a recording is: the marks and the samples in C-level passes
            n0 = len(ts) + s.base
            if any(map(isnan, values)):
                nans.extend([n0 + i for i, v in enumerate(values) if v != v])
            if vals and values[0] < vals[-1]:
                resets.append(n0)
            resets.extend(compress(count(n0 + 1), map(gt, values, values[1:])))
            ts.extend(t_ms)
            vals.extend(values)
            self._advance(t_ms[-1])
            return len(t_ms)
        last_t = ts[-1] if ts else None
        last_v = vals[-1] if vals else None
        n = len(ts) + s.base
        keep_t, keep_v = [], []
        for t, v in zip(t_ms, values):
            if last_t is not None and t <= last_t:
                continue  # out of order or duplicate, as `Series.append` refuses it
            if v != v:
                nans.append(n)
            elif last_v is not None and v < last_v:
                resets.append(n)
            keep_t.append(t)
            keep_v.append(v)
            last_t, last_v, n = t, v, n + 1
        ts.extend(keep_t)
        vals.extend(keep_v)
        if keep_t:
            self._advance(keep_t[-1])
        return len(keep_t)

    def _advance(self, t_ms: int) -> None:
        if self.newest_ms is None or t_ms > self.newest_ms:
            self.newest_ms = t_ms
        if self._pending:
            self.sweep_step(self.sweep_batch)
        if self._next_sweep_ms is None:
            self._next_sweep_ms = t_ms + _SWEEP_EVERY_MS
        elif t_ms >= self._next_sweep_ms:
            self._arm_sweep()
            self.sweep_step(self.sweep_batch)

    def _arm_sweep(self) -> None:
        self._cutoff_ms = self.newest_ms - round((self.retention + LOOKBACK_SLACK_S) * 1000)
        self._pending = list(self._by_id)
        self._next_sweep_ms = self.newest_ms + _SWEEP_EVERY_MS

    def sweep_step(self, budget: int = SWEEP_BATCH) -> int:
        """Trim up to `budget` series of the armed sweep; returns how many are still pending."""
        pending, cutoff = self._pending, self._cutoff_ms
        self.version += 1
        for _ in range(min(budget, len(pending))):
            sid = pending.pop()
            s = self._by_id.get(sid)
            if s is None:
                continue
            s.trim_before(cutoff)
            if not s.ts:
                self._drop(sid, s)
        return len(pending)

    def _drop(self, sid: int, s: Series) -> None:
        key = self._keys.pop(sid)
        del self._by_id[sid], self._series[key]
        name = s.labels.get("__name__", "")
        self._postings[name].remove(sid, s.labels)
        del self._by_name[name][key]
        if not self._by_name[name]:
            del self._by_name[name], self._postings[name]
        self._changed(name)

    def sweep(self) -> None:
        """Drop samples older than newest - retention - 5 min, and series left empty, all at once."""
        if self.newest_ms is None:
            return
        self._arm_sweep()
        self.sweep_step(len(self._pending))

    def series(self, name: str | None = None) -> Iterator[tuple[dict[str, str], Series]]:
        """(labels, Series) for every series, or only those of metric `name`."""
        source = self._series if name is None else self._by_name.get(name, {})
        for s in source.values():
            yield s.labels, s

    def select(self, name: str | None, matchers: tuple, dot_all: bool = True) -> list[tuple[dict[str, str], Series]]:
        """(labels, Series) of metric `name` (any name when None) that every matcher accepts.

        Resolved on the postings, never by a scan; the answer is shared between callers until
        the name's series change, so it must not be mutated.
        """
        key = (name, matchers, dot_all)
        gen = self._gen_all if name is None else self._gen.get(name, 0)
        hit = self._selections.get(key)
        if hit is not None and hit[0] == gen:
            return hit[1]
        names = list(self._postings) if name is None else (name,)
        ids: list[int] = []
        for n in names:
            postings = self._postings.get(n)
            if postings is not None:
                ids += postings.resolve(matchers, dot_all)
        by_id = self._by_id
        out = [(by_id[i].labels, by_id[i]) for i in sorted(ids)]  # ids grow with arrival: the scan's order
        if len(self._selections) >= _MAX_SELECTIONS:
            self._selections.clear()  # ad-hoc queries must not grow it without bound
        self._selections[key] = (gen, out)
        return out

    def clear(self) -> None:
        self._series.clear()
        self._by_name.clear()
        self._postings.clear()
        self._by_id.clear()
        self._keys.clear()
        self._selections.clear()
        self._pending = []
        self.version += 1
        self._gen_all += 1
        for name in self._gen:
            self._gen[name] += 1
        self.newest_ms = self._next_sweep_ms = None

    def sample_count(self) -> int:
        """Samples currently retained, over all series."""
        return sum(len(s.ts) for s in self._series.values())
