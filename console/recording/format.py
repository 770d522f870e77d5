"""The recording file: SQLite schema and migrations, the compact per-minute chunk codecs, and the reader."""

from __future__ import annotations

import json
import lzma
import math
import sqlite3
import struct
import zlib
from array import array
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import truediv, xor
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
APPLICATION_ID = 0x6F707363  # "opsc": tells a recording from any other SQLite file
CHUNK_MS = 60_000  # one chunk holds one minute of one stream
SUFFIX = ".opsrec"

# Stream kinds: a metric series (numeric chunks); a polled endpoint, either a /metrics scrape or a JSON
# endpoint (poll chunks: when, status, error, payload when it changed); the engine's evaluation ticks.
SERIES, SCRAPE, JSON, TICK = "series", "scrape", "json", "tick"
# A series the engine derived itself (`up`, staleness markers, the JSON gauges): named once here, its samples
# in the keyframe chunks (one per keyframe, every derived series by id); the published states (state chunks).
DERIVED, KEYFRAMES, STATES = "derived", "keyframes", "states"
# A memo that changes at nearly every tick (the figures': a counter's last change): poll chunks, the snapshot as the
# payload, one stream per part (endpoint = the part), instead of an event row each (~7 KB a minute, uncompressed).
MEMO = "memo"
F_PAYLOAD = 1  # chunk flag: holds a JSON payload

# Migration i brings a file from version i to i + 1; a file newer than SCHEMA_VERSION is refused.
MIGRATIONS: list[list[str]] = [[
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE streams (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL,"
    " endpoint TEXT NOT NULL, labels TEXT)",
    # Time-major keys: every minute's chunks append at the right edge of the b-tree, so pages stay full.
    "CREATE TABLE chunks (t0 INTEGER NOT NULL, stream_id INTEGER NOT NULL, t1 INTEGER NOT NULL,"
    " n INTEGER NOT NULL, flags INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (t0, stream_id)) WITHOUT ROWID",
    "CREATE INDEX chunks_payload ON chunks (stream_id, t0) WHERE flags & 1 = 1",
    # The current minute, batch by batch, until it is sealed into `chunks` (same columns).
    "CREATE TABLE head (t0 INTEGER NOT NULL, stream_id INTEGER NOT NULL, t1 INTEGER NOT NULL,"
    " n INTEGER NOT NULL, flags INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (t0, stream_id)) WITHOUT ROWID",
    "CREATE TABLE events (ts REAL NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX events_ts ON events (ts)",
]]


class RecordingError(Exception):
    """A recording that cannot be used, phrased as one line."""


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Create or upgrade the schema; a file from a newer console is refused."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RecordingError(f"{path}: recording schema v{version} is newer than this console's "
                             f"v{SCHEMA_VERSION}: upgrade opsconsole to read it")
    for v in range(version, SCHEMA_VERSION):
        with conn:
            for stmt in MIGRATIONS[v]:
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {v + 1}")
    if version == 0:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


# --- codecs -----------------------------------------------------------------------------------
# Integers go into fixed-width arrays (the narrowest that fits the chunk) and the whole chunk is
# deflated: the zero high bytes of small deltas cost almost nothing, and decoding stays in C.

_WIDTHS = (("b", 1 << 7), ("h", 1 << 15), ("i", 1 << 31), ("q", 1 << 63))


def _pack_ints(values: list[int]) -> bytes:
    lo, hi = (min(values), max(values)) if values else (0, 0)
    code = next(c for c, lim in _WIDTHS if -lim <= lo and hi < lim)
    return code.encode() + array(code, values).tobytes()


def _unpack_ints(buf: memoryview, pos: int, n: int) -> tuple[list[int], int]:
    code = chr(buf[pos])
    a = array(code)
    end = pos + 1 + a.itemsize * n
    a.frombytes(buf[pos + 1:end])
    return a.tolist(), end


def _int_array(buf: memoryview, pos: int, n: int) -> tuple[array, int]:
    """As _unpack_ints, left as an array (iterated once, no list needed)."""
    a = array(chr(buf[pos]))
    end = pos + 1 + a.itemsize * n
    a.frombytes(buf[pos + 1:end])
    return a, end


def _deltas(values: list[int], order: int) -> list[int]:
    for _ in range(order):
        values = values[:1] + [b - a for a, b in zip(values, values[1:])]
    return values


def _undeltas(values: list[int], order: int) -> list[int]:
    for _ in range(order):
        values = list(accumulate(values))
    return values


def _float_bits(values) -> list[int]:
    return array("Q", array("d", values).tobytes()).tolist()


def _xor_pack(values: list[float]) -> bytes:
    bits = _float_bits(values)
    return array("Q", [a ^ b for a, b in zip([0] + bits, bits)]).tobytes()


def _xor_unpack(buf: memoryview, pos: int, n: int) -> tuple[list[float], int]:
    raw = array("Q")
    end = pos + 8 * n
    raw.frombytes(buf[pos:end])
    return array("d", array("Q", accumulate(raw, xor)).tobytes()).tolist(), end


def _decimal_scale(values: list[float]) -> int | None:
    """The smallest k with every value exactly i / 10**k for an integer i (bit for bit), else None."""
    bits = _float_bits(values)
    for k in range(7):
        scale = 10 ** k
        try:
            ints = [round(v * scale) for v in values]
        except (OverflowError, ValueError):  # inf or NaN: only the XOR form keeps them
            return None
        if all(abs(i) < 1 << 53 for i in ints) and _float_bits([i / scale for i in ints]) == bits:
            return k
    return None


def _deflate(raw: bytes) -> bytes:
    # A window no larger than the data (a chunk is mostly under 1 KiB): the same bytes out as with the full 32 KiB
    # window (measured on a recording's 2,952 chunks: the same total, all but one byte for byte), and set up 4x
    # faster; zlib's 32 KiB window and its tables were most of a minute's sealing. Read with the full window, as ever.
    c = zlib.compressobj(9, zlib.DEFLATED, -max(9, min(15, (len(raw) - 1).bit_length())))
    packed = c.compress(raw) + c.flush()
    return b"z" + packed if len(packed) < len(raw) else b"r" + raw


def _inflate(data: bytes) -> memoryview:
    if data[:1] == b"z":
        return memoryview(zlib.decompress(data[1:], -15))
    if data[:1] == b"r":
        return memoryview(data)[1:]
    raise ValueError("unknown chunk encoding")


def encode_samples(t_ms: list[int], values: list[float], explicit: list[int | None], quick: bool = False) -> bytes:
    """A series chunk: ms timestamps (delta of delta from the first), values, optional exposition timestamps.
    `quick` for the head's partial rows (a second's samples, replaced when the minute is sealed): neither the
    decimal scale searched for nor deflated, read as any chunk is."""
    if quick:
        return b"r" + pack_samples(t_ms, values, explicit, scale=False)
    return _deflate(pack_samples(t_ms, values, explicit))


def pack_samples(t_ms: list[int], values: list[float], explicit: list[int | None], scale: bool = True) -> bytes:
    """encode_samples before deflating (a keyframe deflates all its series together)."""
    n = len(t_ms)
    k = _decimal_scale(values) if scale else None
    parts = [struct.pack("<IB", n, 255 if k is None else k), _pack_ints(_deltas([t - t_ms[0] for t in t_ms], 2))]
    parts.append(_xor_pack(values) if k is None else _pack_ints(_deltas([round(v * 10 ** k) for v in values], 1)))
    if any(e is not None for e in explicit):
        parts.append(_pack_ints([0 if e is None else e - t + 1 for e, t in zip(explicit, t_ms)]))
    return b"".join(parts)


def decode_samples(data: bytes, t0: int) -> tuple[list[int], list[float], list[int | None] | None]:
    return unpack_samples(_inflate(data), t0)


def unpack_samples(buf: memoryview, t0: int) -> tuple[list[int], list[float], list[int | None] | None]:
    """pack_samples' bytes (exactly those: the explicit timestamps are whatever follows the values)."""
    n, k = struct.unpack_from("<IB", buf, 0)
    dts, pos = _int_array(buf, 5, n)
    # _undeltas(dts, 2) offset by t0, in C-level passes (a seek decodes an hour of chunks: ~10,000 of them)
    t_ms = list(accumulate(accumulate(dts), initial=t0))
    del t_ms[0]
    if k == 255:
        values, pos = _xor_unpack(buf, pos, n)
    else:
        ints, pos = _int_array(buf, pos, n)
        values = list(map(truediv, accumulate(ints), repeat(10 ** k))) if k else list(map(float, accumulate(ints)))
    explicit = None
    if pos < len(buf):
        offs, pos = _unpack_ints(buf, pos, n)
        explicit = [None if o == 0 else t + o - 1 for o, t in zip(offs, t_ms)]
    return t_ms, values, explicit


@dataclass
class Poll:
    """One entry of a poll stream: a poll of an endpoint (or an evaluation tick)."""

    ts: float  # exact, as the engine saw it
    status: int | None = None
    error: str | None = None
    payload_text: str | None = None  # the JSON body when it changed since the stream's previous one


def encode_polls(polls: list[Poll]) -> bytes:
    """Exact float timestamps (XOR of the bits) and one JSON list: a bare status, or {s, e, p}."""
    entries = []
    for p in polls:
        if p.error is None and p.payload_text is None:
            entries.append(p.status)
        else:
            e = {"s": p.status}
            if p.error is not None:
                e["e"] = p.error
            if p.payload_text is not None:
                e["p"] = p.payload_text
            entries.append(e)
    body = json.dumps(entries, separators=(",", ":")).encode()
    return _deflate(struct.pack("<I", len(polls)) + _xor_pack([p.ts for p in polls]) + body)


def decode_polls(data: bytes) -> list[Poll]:
    buf = _inflate(data)
    (n,) = struct.unpack_from("<I", buf, 0)
    ts, pos = _xor_unpack(buf, 4, n)
    out = []
    for t, e in zip(ts, json.loads(bytes(buf[pos:]))):
        out.append(Poll(t, e) if not isinstance(e, dict) else Poll(t, e.get("s"), e.get("e"), e.get("p")))
    return out


def encode_keyframe(series: list[tuple[int, list[int], list[float]]]) -> bytes:
    """A keyframe chunk: every derived series' samples since the previous keyframe, by stream id, deflated together
    (labels are in the streams table once; a series that only says `up 1` costs next to nothing)."""
    parts = [struct.pack("<I", len(series))]
    for sid, t_ms, values in series:
        raw = pack_samples(t_ms, values, [None] * len(t_ms))
        parts.append(struct.pack("<IqI", sid, t_ms[0], len(raw)))
        parts.append(raw)
    return _deflate(b"".join(parts))


def decode_keyframe(data: bytes) -> list[tuple[int, list[int], list[float]]]:
    buf = _inflate(data)
    (n,) = struct.unpack_from("<I", buf, 0)
    pos, out = 4, []
    for _ in range(n):
        sid, t0, size = struct.unpack_from("<IqI", buf, pos)
        pos += 16
        t_ms, values, _ = unpack_samples(buf[pos:pos + size], t0)
        pos += size
        out.append((sid, t_ms, values))
    return out


# States: each published ConsoleState as the war-room stream sends it (console/remote/codec.py), a full document at
# the first tick of every five minutes and the diff from the previous tick otherwise. Each entry carries the tick
# its diff applies to, so a gap (a batch lost to a full disk) is found, never applied to the wrong document.
# LZMA: a minute of diffs is mostly the figures' float digits; it packs them a fifth smaller than deflate.
# Written with a 256 KiB dictionary: preset 6's own 8 MiB made each minute's compression zero ~18 MiB of match-finder
# tables, the demo's peak RSS, and 1 MiB still ~3.5 MiB; a minute of the demo's states is 95-135 KB, so its chunks
# are byte for byte as small as with 1 MiB (+2.0 MiB at the peak instead of +3.5). Read with the preset's 8 MiB (a
# raw stream's reader needs a dictionary at least as large as its writer's; 8 MiB reads every one written).
_LZMA_WRITE = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 18}]
_LZMA = [{"id": lzma.FILTER_LZMA2, "preset": 6}]


@dataclass
class StateEntry:
    ts: float  # the tick
    base: float | None  # the tick the diff applies to; None: a full document
    doc: Any  # the document or the diff: JSON text when written, parsed when read


def encode_states(entries: list[StateEntry], quick: bool = False) -> bytes:
    """A chunk of states; `quick` for the head's partial rows (a second of states, replaced when the minute is
    sealed): LZMA's fastest preset, readable as every chunk is."""
    n = len(entries)
    head = struct.pack("<I", n) + _xor_pack([e.ts for e in entries])
    head += _xor_pack([math.nan if e.base is None else e.base for e in entries])
    data = head + ("[" + ",".join(e.doc for e in entries) + "]").encode()
    return b"x" + lzma.compress(data, format=lzma.FORMAT_RAW, filters=_lzma_write(len(data), quick))


def _lzma_write(size: int, quick: bool) -> list[dict]:
    """The filters for `size` bytes: a dictionary no larger than the data (a second's diff is a few KiB: setting up
    the full dictionary's match-finder tables for it cost 5× its compression), preset 0 for a head row. Same bytes
    out for a minute's chunk (a dictionary as large as the data finds every match a larger one would)."""
    dict_size = max(1 << 12, min(_LZMA_WRITE[0]["dict_size"], 1 << (size - 1).bit_length()))
    return [{**_LZMA_WRITE[0], "dict_size": dict_size, **({"preset": 0} if quick else {})}]


_DOCS = json.JSONDecoder()


def decode_states(data: bytes, before_ms: int | None = None) -> list[StateEntry]:
    """The entries of a state chunk (only those with a tick before `before_ms`, when given: a seek parses none of
    the minute after its target)."""
    if data[:1] != b"x":
        raise ValueError("unknown state chunk encoding")
    buf = memoryview(lzma.decompress(data[1:], format=lzma.FORMAT_RAW, filters=_LZMA))
    (n,) = struct.unpack_from("<I", buf, 0)
    ts, pos = _xor_unpack(buf, 4, n)
    bases, pos = _xor_unpack(buf, pos, n)
    k = n if before_ms is None else sum(1 for t in ts if round(t * 1000) < before_ms)
    if k == n:
        docs = json.loads(bytes(buf[pos:]))
        if len(docs) != n:
            raise ValueError("state chunk: entries do not match")
    else:
        text, at, docs = bytes(buf[pos:]).decode(), 1, []
        for _ in range(k):  # the first k of the list, one value at a time
            doc, at = _DOCS.raw_decode(text, at)
            docs.append(doc)
            at += 1  # the comma
    return [StateEntry(t, None if math.isnan(b) else b, d) for t, b, d in zip(ts, bases, docs)]


def minute_of(ms: int) -> int:
    return ms - ms % CHUNK_MS


# --- reading ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stream:
    id: int
    kind: str
    source: str
    endpoint: str
    labels: dict | None


class Recording:
    """A recording opened for reading (also while a console is still writing it: WAL readers)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.skipped: list[str] = []  # what could not be read, one line each
        self.conn = _open_checked(self.path)
        self.refresh()

    def refresh(self) -> None:
        """(Re)read the metadata, the streams and the span: a console still recording into the file adds to them."""
        try:
            self.meta = {k: v for k, v in self.conn.execute("SELECT key, value FROM meta")}
            rows = self.conn.execute("SELECT id, kind, source, endpoint, labels FROM streams ORDER BY id").fetchall()
        except sqlite3.DatabaseError as e:
            raise RecordingError(f"{self.path}: not readable: {e}") from None
        self.streams = {r[0]: Stream(r[0], r[1], r[2], r[3], json.loads(r[4]) if r[4] else None) for r in rows}
        self.tick_stream = next((s.id for s in self.streams.values() if s.kind == TICK), None)
        self.start, self.end = self._span()

    def close(self) -> None:
        self.conn.close()

    def _span(self) -> tuple[float | None, float | None]:
        if self.tick_stream is None:
            return None, None
        first = self._rows("WHERE stream_id = ? ORDER BY t0 LIMIT 1", (self.tick_stream,))
        last = self._rows("WHERE stream_id = ? ORDER BY t0 DESC LIMIT 1", (self.tick_stream,))
        if not first:
            return None, None
        first, last = min(first, key=lambda r: r[1]), max(last, key=lambda r: r[1])
        return decode_polls(first[3])[0].ts, decode_polls(last[3])[-1].ts

    def _rows(self, where: str, args: tuple) -> list[tuple]:
        """(stream_id, t0, flags, data) from the sealed chunks and the head, per stream in time order."""
        out = []
        for table in ("chunks", "head"):
            try:
                out += self.conn.execute(f"SELECT stream_id, t0, flags, data FROM {table} {where}", args).fetchall()
            except sqlite3.DatabaseError as e:  # a damaged page: skip what it held, keep the rest
                self._skip(f"{table} {where.split(' ORDER')[0]} {args}: {e}")
        out.sort(key=lambda r: (r[0], r[1]))
        return out

    def chunks(self, a_ms: int, b_ms: int, stream: int | None = None) -> list[tuple]:
        """(stream_id, t0, flags, data) of the chunks that start in [a_ms, b_ms), per stream in time order."""
        if stream is None:
            return self._rows("WHERE t0 >= ? AND t0 < ?", (a_ms, b_ms))
        return self._rows("WHERE t0 >= ? AND t0 < ? AND stream_id = ?", (a_ms, b_ms, stream))

    def decode(self, sid: int, t0: int, data: bytes):
        """Decoded chunk content, or None (and a note in `skipped`) when it is damaged."""
        try:
            kind = self.streams[sid].kind
            if kind in (SERIES, DERIVED):
                return decode_samples(data, t0)
            if kind == KEYFRAMES:
                return decode_keyframe(data)
            if kind == STATES:
                return decode_states(data)
            return decode_polls(data)
        except Exception as e:  # noqa: BLE001 - any damage in one chunk only loses that chunk
            self._skip(f"stream {sid} at {t0 // 1000}s: {type(e).__name__}")
            return None

    def last_entry(self, sid: int, before_ms: int, want, *, payload: bool = False) -> Poll | None:
        """The newest entry of a poll stream before `before_ms` for which want(entry) holds
        (payload=True: look only at chunks that hold a JSON body, through their index)."""
        cond = "flags & 1 = 1 AND " if payload else ""
        sql = (f"SELECT t0, data FROM {{}} WHERE {cond}stream_id = ? AND t0 < ? ORDER BY t0 DESC")
        try:
            for table in ("head", "chunks"):
                for t0, data in self.conn.execute(sql.format(table), (sid, before_ms)):  # newest first, lazily
                    hits = [p for p in self.decode(sid, t0, data) or () if round(p.ts * 1000) < before_ms and want(p)]
                    if hits:
                        return hits[-1]
        except sqlite3.DatabaseError as e:
            self._skip(f"stream {sid}: {e}")
        return None

    def last_event(self, kind: str, before: float):
        """The data of the newest event of `kind` strictly before `before`, or None."""
        row = self.conn.execute("SELECT data FROM events WHERE kind = ? AND ts < ? ORDER BY ts DESC, rowid DESC"
                                " LIMIT 1", (kind, before)).fetchone()
        return None if row is None else json.loads(row[0])

    def events(self, a: float = float("-inf"), b: float = float("inf"), kinds: tuple[str, ...] = ()) -> list[tuple]:
        """(ts, kind, data) of recorded events in [a, b], oldest first."""
        sql = "SELECT ts, kind, data FROM events WHERE ts >= ? AND ts <= ?"
        args: list = [a, b]
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        try:
            return [(t, k, json.loads(d)) for t, k, d in self.conn.execute(sql + " ORDER BY ts, rowid", args)]
        except sqlite3.DatabaseError as e:
            self._skip(f"events: {e}")
            return []

    def note(self, what: str) -> None:
        """Say (once) that something could not be read and what was done instead."""
        self._skip(what)

    def _skip(self, what: str) -> None:
        if what not in self.skipped:
            self.skipped.append(what)


def _open_checked(path: str) -> sqlite3.Connection:
    """Open a recording, or raise RecordingError saying in one line why this file is not one."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            header = f.read(100)
        size = p.stat().st_size
    except OSError as e:
        raise RecordingError(f"{path}: cannot read: {e.strerror}") from None
    if not header.startswith(b"SQLite format 3\x00"):
        raise RecordingError(f"{path}: not an opsconsole recording (not an SQLite file)")
    page = int.from_bytes(header[16:18], "big") or 65536
    pages = int.from_bytes(header[28:32], "big")
    if size < page * pages or size % page:
        raise RecordingError(f"{path}: recording is truncated ({size} of {page * pages} bytes)")
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise RecordingError(f"{path}: not an opsconsole recording (an SQLite file of something else)")
        migrate(conn, path)
    except sqlite3.DatabaseError as e:
        conn.close()
        raise RecordingError(f"{path}: not readable: {e}") from None
    except RecordingError:
        conn.close()
        raise
    return conn
