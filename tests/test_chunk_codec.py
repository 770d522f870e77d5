"""A sealed series chunk reads back exactly, and its deflate window (sized to the chunk) costs no bytes in the file."""

from __future__ import annotations

import zlib

from hypothesis import example, given, settings, strategies as st

from console.recording.format import decode_samples, encode_samples, pack_samples

T0 = 1_790_000_000_000

values = st.one_of(st.floats(allow_nan=False, allow_infinity=True, width=64),
                   st.integers(-10**6, 10**6).map(lambda i: i / 100))


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=6000), st.integers(1, 15_000))
@example([1.5], 1000)  # a second's head row
@example([(i * 7919 % 1000) / 8 for i in range(5000)], 1000)  # past deflate's 32 KiB window: its largest chunks
def test_a_chunk_reads_back_and_is_no_larger_than_with_the_full_window(vals, step):
    t_ms = [T0 + i * step for i in range(len(vals))]
    data = encode_samples(t_ms, vals, [None] * len(vals))
    got_t, got_v, explicit = decode_samples(data, T0)
    assert got_t == t_ms and explicit is None
    assert [repr(v) for v in got_v] == [repr(v) for v in vals]  # bit for bit (-0.0 too)
    raw = pack_samples(t_ms, vals, [None] * len(vals))
    full = zlib.compressobj(9, zlib.DEFLATED, -15)
    assert len(data) <= 1 + min(len(raw), len(full.compress(raw) + full.flush()))
