"""Per-series windowed sample storage with bounded memory: the local TSDB the PromQL evaluator reads."""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator

# Prometheus' staleness marker: a NaN with a specific payload (value.StaleNaN).
STALE_NAN_BITS = 0x7FF0000000000002
_STALE_BYTES = struct.pack("<Q", STALE_NAN_BITS)
STALE_NAN: float = struct.unpack("<d", _STALE_BYTES)[0]

# Keep this much beyond the retention so an instant lookup at the window's start still works.
LOOKBACK_SLACK_S = 300.0
# Trim at most once per this much data time: trimming is a memmove, so it is batched.
_SWEEP_EVERY_MS = 60_000


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
        del self.ts[:k]
        del self.vals[:k]
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


def _key(labels: dict[str, str]) -> tuple:
    return tuple(sorted(labels.items()))


class SeriesStore:
    """Series keyed by their label set, indexed by metric name, trimmed to the retention."""

    def __init__(self, retention: float = 3600.0, keep: Callable[[str], bool] | None = None) -> None:
        self.retention = float(retention)
        self._keep = keep
        self._keep_cache: dict[str, bool] = {}
        self._series: dict[tuple, Series] = {}
        self._by_name: dict[str, dict[tuple, Series]] = {}
        self.newest_ms: int | None = None
        self._next_sweep_ms: int | None = None

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
        return s

    def add(self, labels: dict[str, str], ts: float, value: float) -> bool:
        """Store one sample; False when it was filtered out or out of order."""
        s = self._get(labels)
        if s is None:
            return False
        t_ms = round(ts * 1000)
        if not s.append(t_ms, float(value)):
            return False
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
            self._advance(newest)
        return accepted

    def load(self, labels: dict[str, str], t_ms: list[int], values: list[float]) -> int:
        """Append one series' samples, oldest first, exactly as `add` one at a time would (a replay seek loading
        a window from arrays); returns how many were accepted."""
        s = self._get(labels)
        if s is None or not t_ms:
            return 0
        ts, vals, nans, resets = s.ts, s.vals, s.nans, s.resets
        if (not ts or t_ms[0] > ts[-1]) and all(a < b for a, b in zip(t_ms, t_ms[1:])):
            # in order, as a window read from a recording is: the marks in comprehensions, the samples in one go
            n0 = len(ts) + s.base
            nans.extend([n0 + i for i, v in enumerate(values) if v != v])
            if vals and values[0] < vals[-1]:
                resets.append(n0)
            resets.extend([n0 + i for i, (a, b) in enumerate(zip(values, values[1:]), 1) if b < a])
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
        if self._next_sweep_ms is None:
            self._next_sweep_ms = t_ms + _SWEEP_EVERY_MS
        elif t_ms >= self._next_sweep_ms:
            self.sweep()

    def sweep(self) -> None:
        """Drop samples older than newest - retention - 5 min, and series left empty."""
        if self.newest_ms is None:
            return
        cutoff = self.newest_ms - round((self.retention + LOOKBACK_SLACK_S) * 1000)
        for key, s in list(self._series.items()):
            s.trim_before(cutoff)
            if not s.ts:
                del self._series[key]
                name = s.labels.get("__name__", "")
                del self._by_name[name][key]
                if not self._by_name[name]:
                    del self._by_name[name]
        self._next_sweep_ms = self.newest_ms + _SWEEP_EVERY_MS

    def series(self, name: str | None = None) -> Iterator[tuple[dict[str, str], Series]]:
        """(labels, Series) for every series, or only those of metric `name`."""
        source = self._series if name is None else self._by_name.get(name, {})
        for s in source.values():
            yield s.labels, s

    def clear(self) -> None:
        self._series.clear()
        self._by_name.clear()
        self.newest_ms = self._next_sweep_ms = None

    def sample_count(self) -> int:
        """Samples currently retained, over all series."""
        return sum(len(s.ts) for s in self._series.values())
