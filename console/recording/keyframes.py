"""Keyframes: every minute of data, the samples the engine derived itself, so a seek loads windows without replaying them.

The store's windows are the recorded scrapes plus what the engine adds on its own: `up`, staleness markers, the
JSON endpoints' gauges, recording rules. The scrapes are in the series chunks already; a keyframe (event
"keyframe", and a chunk of the "keyframes" stream at the same instant) holds the derived samples since the previous
keyframe, each series by the id of its "derived" stream (its labels stored once), all deflated together. Recordings
made before keyframe chunks kept the samples in the event itself, each series with its labels (read as well). A seek then
builds the hour before the target from arrays (chunks + keyframes up to the newest keyframe before it) and
ingests through the engine only the seconds after that keyframe. What the engine remembers beyond its
windows (alerts' since, incidents, actions, a stage's start) is in the memo events, restored at the target itself.
"""

from __future__ import annotations

import base64
from array import array
from bisect import bisect_left, bisect_right
from itertools import islice
from typing import Any

from console.metrics.store import SeriesStore, is_stale
from console.model import Observation

from .format import KEYFRAMES, SERIES, Recording, decode_samples, minute_of

EVERY = 60.0  # seconds of data between keyframes: a seek ingests at most this much through the engine (5 min was ~0.5 s)
KIND = "keyframe"


def _key(labels: dict[str, str]) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if v))  # an empty label value is no label (the store's rule)


class Keyframer:
    """On the recording side: which series come from scrapes, and the derived samples since the last keyframe."""

    def __init__(self) -> None:
        self.scraped: set[tuple] = set()
        self.last_ms: int | None = None  # the previous keyframe
        self.next_at: float | None = None

    def saw(self, obs: Observation) -> None:
        for s in obs.samples or ():
            self.scraped.add(_key(s.labels))

    def due(self, ts: float) -> bool:
        if self.next_at is None:
            self.next_at = ts - ts % EVERY + EVERY
        return ts >= self.next_at

    def take(self, store: SeriesStore, ts: float) -> list[tuple[dict, list[int], list[float]]]:
        """The keyframe at tick `ts`: every derived sample in (previous keyframe, ts], as (labels, times, values);
        the writer encodes them in its thread (one chunk, each series by its stream's id)."""
        k_ms = round(ts * 1000)
        lo = self.last_ms
        series = []
        for labels, s in store.series():
            a = 0 if lo is None else bisect_right(s.ts, lo)
            b = bisect_right(s.ts, k_ms)
            if a >= b:
                continue
            if _key(labels) in self.scraped:  # a scraped series: only the staleness markers are the engine's
                # found through the series' NaN marks (absolute sample numbers), never by copying its 5 minutes
                marks = s.nans[bisect_left(s.nans, a + s.base):bisect_left(s.nans, b + s.base)]
                kept = [i - s.base for i in marks if is_stale(s.vals[i - s.base])]
                if not kept:
                    continue
                t, v = [s.ts[i] for i in kept], [s.vals[i] for i in kept]
            else:
                t, v = s.ts[a:b].tolist(), s.vals[a:b].tolist()
            series.append((dict(labels), t, v))
        self.last_ms = k_ms
        self.next_at = ts - ts % EVERY + EVERY
        return series


def latest_before(rec: Recording, at: float) -> float | None:
    """The newest keyframe at or before `at`, or None (a recording made before keyframes, or its first minutes)."""
    try:
        row = rec.conn.execute("SELECT max(ts) FROM events WHERE kind = ? AND ts <= ?", (KIND, at)).fetchone()
    except Exception:  # noqa: BLE001 - a damaged events table: seek the old way
        return None
    return None if row is None else row[0]


def has_keyframes(rec: Recording) -> bool:
    try:
        return rec.conn.execute("SELECT 1 FROM events WHERE kind = ? LIMIT 1", (KIND,)).fetchone() is not None
    except Exception:  # noqa: BLE001
        return False


CACHE_CHUNKS = 24_000  # decoded chunks a Replay keeps between seeks (~2.4 h of the demo's; ~1 KB each)


def windows(rec: Recording, a_ms: int, k_ms: int, cache: dict | None = None) -> dict[tuple, list]:
    """Every sample the store held in [a_ms, k_ms] by series: the scrapes from the chunks (at their exposition
    timestamp when they had one, as the engine stores them) and the derived ones from the keyframes.
    {key: [labels, times, values, merged]} (times and values as arrays, as the store keeps them); `merged`: both
    kinds, to be put in time order.
    `cache` (the caller's, kept between seeks): chunks and keyframes decoded before, so that the next seek nearby
    (a rewind 10 s back) decodes only what it had not read yet. A chunk is known by its bytes (one still being
    written has other bytes each time); a keyframe by its time (it is written once)."""
    out: dict[tuple, list] = {}
    keys: dict[int, tuple] = {}
    frames = []  # keyframe chunks (this console's): the derived series by stream id
    for sid, t0, _, data in rec.chunks(minute_of(a_ms), k_ms + 1):
        s = rec.streams.get(sid)
        if s is not None and s.kind == KEYFRAMES and a_ms <= t0 <= k_ms:
            frames.append((sid, t0, data))
        if s is None or s.kind != SERIES:
            continue
        hit = None if cache is None else cache.get((sid, t0, data))
        if hit is None:
            dec = rec.decode(sid, t0, data)
            if dec is None:
                continue
            t_ms, values, explicit = dec
            if explicit is not None:
                t_ms = [t if e is None else e for t, e in zip(t_ms, explicit)]
            hit = (array("q", t_ms), array("d", values))
            if cache is not None:
                _remember(cache, (sid, t0, data), hit)
        t_arr, v_arr = hit
        if t_arr[0] < a_ms or t_arr[-1] > k_ms:  # the first and last minutes: cut to the range
            cut = [(t, v) for t, v in zip(t_arr, v_arr) if a_ms <= t <= k_ms]
            t_arr, v_arr = array("q", [p[0] for p in cut]), array("d", [p[1] for p in cut])
        key = keys.get(sid)
        if key is None:
            key = keys[sid] = _key(s.labels)
        got = out.get(key)
        if got is None:
            out[key] = [s.labels, array("q", t_arr), array("d", v_arr), False]  # copies: the cache's stay as read
        else:
            got[1] += t_arr
            got[2] += v_arr
    scraped = set(out)
    for labels, t_ms, values in _derived(rec, frames, cache) if frames else _keyframe_series(rec, a_ms, k_ms, cache):
        key = _key(labels)
        got = out.get(key)
        if got is None:
            got = out[key] = [labels, array("q"), array("d"), False]
        elif key in scraped:
            got[3] = True  # staleness markers among a scraped series' samples
        for t, v in zip(t_ms, values):
            if a_ms <= t <= k_ms:
                got[1].append(t)
                got[2].append(v)
    return out


def _derived(rec: Recording, frames: list[tuple], cache: dict | None):
    """(labels, times, values) of every derived series in these keyframe chunks, decoded (or from `cache`)."""
    for sid, t0, data in frames:
        hit = None if cache is None else cache.get((sid, t0, data))
        if hit is None:
            hit = rec.decode(sid, t0, data)
            if hit is None:  # damaged: noted by the reader; the seek goes on without those samples
                continue
            if cache is not None:
                _remember(cache, (sid, t0, data), hit)
        for i, t_ms, values in hit:
            s = rec.streams.get(i)
            if s is not None:
                yield s.labels, t_ms, values


def _keyframe_series(rec: Recording, a_ms: int, k_ms: int, cache: dict | None):
    """(labels, times, values) of every series of every keyframe event in [a_ms, k_ms] (recordings made before
    keyframe chunks: each event repeats its series' labels), decoded (or from `cache`)."""
    a, b = (a_ms - 0.5) / 1000, (k_ms + 0.5) / 1000  # a wall clock's ts: sub-ms
    if cache is None:
        todo = rec.events(a, b, (KIND,))
        done = []
    else:
        try:
            times = [t for t, in rec.conn.execute("SELECT ts FROM events WHERE kind = ? AND ts >= ? AND ts <= ?"
                                                  " ORDER BY ts, rowid", (KIND, a, b))]
        except Exception:  # noqa: BLE001 - a damaged events table: read them as before (rec.events skips it)
            times = None
        if times is None or len(set(times)) != len(times) or any((KIND, t) not in cache for t in times):
            todo, done = rec.events(a, b, (KIND,)), []
        else:
            todo, done = [], [cache[(KIND, t)] for t in times]
    for ts, _, data in todo:
        decoded = []
        for labels, t0, blob in data.get("series", ()):
            t_ms, values, _ = decode_samples(base64.b64decode(blob), t0)
            decoded.append((labels, t_ms, values))
        if cache is not None:
            _remember(cache, (KIND, ts), decoded)
        done.append(decoded)
    for decoded in done:
        yield from decoded


def _remember(cache: dict, key, value) -> None:
    if len(cache) >= CACHE_CHUNKS:  # the oldest read first out
        for old in list(islice(cache, CACHE_CHUNKS // 4)):
            del cache[old]
    cache[key] = value


def load(store: SeriesStore, series: dict[tuple, list]) -> int:
    """Put the windows into a cleared store, each series in time order (as ingestion would have); samples loaded."""
    n = 0
    for labels, t_ms, values, merged in series.values():
        if merged:
            pairs = sorted(zip(t_ms, values), key=lambda p: p[0])
            t_ms, values = [p[0] for p in pairs], [p[1] for p in pairs]
        n += store.load(labels, t_ms, values)
    return n
