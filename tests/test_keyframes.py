"""What a keyframe holds: the samples the engine added itself since the previous keyframe (a scraped series'
staleness markers, every sample of a series no scrape carries), through the keyframe chunk's codec, exactly."""

from __future__ import annotations

import struct

from console.metrics.store import STALE_NAN, SeriesStore
from console.model import Observation, Sample
from console.recording.format import decode_keyframe, encode_keyframe
from console.recording.keyframes import Keyframer


def _bits(v: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def test_a_keyframe_holds_the_engines_own_samples_since_the_last_one():
    store = SeriesStore(retention=3600)
    scraped = {"__name__": "http_requests_total", "job": "dp", "code": "500", "empty": ""}
    derived = {"__name__": "up", "job": "dp", "instance": "x"}
    kf = Keyframer()
    for t in range(0, 600, 15):
        if t == 300:
            store.add(scraped, t, STALE_NAN)  # the scrape failed: the engine marks the series stale
        else:
            kf.saw(Observation(t, "dp", "metrics", samples=(Sample(scraped, float(t)),)))
            store.add(scraped, t, float(t))
        store.add(derived, t, 0.0 if t == 300 else 1.0)
    assert kf.due(0.0) is False and kf.due(300.0)
    first = kf.take(store, 300.0)
    second = kf.take(store, 585.0)

    def decoded(series):  # as the recorder writes it (each series by a stream id) and a seek reads it
        names = {i: labels["__name__"] for i, (labels, _, _) in enumerate(series, start=7)}
        chunk = encode_keyframe([(i, t, v) for i, (_, t, v) in enumerate(series, start=7)])
        return {names[i]: [(t, _bits(v)) for t, v in zip(t_ms, values)] for i, t_ms, values in decode_keyframe(chunk)}

    one, two = decoded(first), decoded(second)
    assert one["http_requests_total"] == [(300_000, _bits(STALE_NAN))]  # only the marker: the rest is in chunks
    assert one["up"] == [(t * 1000, _bits(0.0 if t == 300 else 1.0)) for t in range(0, 301, 15)]
    assert "http_requests_total" not in two  # no marker since
    assert two["up"] == [(t * 1000, _bits(1.0)) for t in range(315, 586, 15)]  # since the last keyframe only
