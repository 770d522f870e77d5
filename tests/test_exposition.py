"""parse_exposition stores what a Prometheus scrape stores, past prometheus_client's parser gaps."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from console.safe_text import strip_controls
from console.sources.exposition import le_float, parse_exposition


def parse(text: str) -> list[tuple[str, dict, float, float | None]]:
    """(name, labels without the target labels, value, ts) for each sample."""
    out = []
    for s in parse_exposition(text, "job1", "host:9"):
        labels = dict(s.labels)
        assert (labels.pop("job"), labels.pop("instance")) == ("job1", "host:9")
        out.append((labels.pop("__name__"), labels, s.value, s.ts))
    return out


def test_counter_without_total_keeps_the_name_as_written():
    text = "# TYPE foo counter\nfoo 1\n# TYPE bar_total counter\nbar_total 2\n"
    assert parse(text) == [("foo", {}, 1.0, None), ("bar_total", {}, 2.0, None)]


def test_created_is_a_plain_sample_named_as_written():
    text = ("# TYPE req_total counter\nreq_total 5\nreq_created 1.7e9\n"
            "# TYPE lat histogram\nlat_bucket{le=\"+Inf\"} 1\nlat_sum 0.5\nlat_count 1\nlat_created 1.6e9\n")
    assert [(n, v) for n, _, v, _ in parse(text)] == [
        ("req_total", 5.0), ("req_created", 1.7e9),
        ("lat_bucket", 1.0), ("lat_sum", 0.5), ("lat_count", 1.0), ("lat_created", 1.6e9)]


def test_exemplars_never_become_timestamps():
    text = ('lat_bucket{le="1"} 3 # {trace_id="x"} 1.0 123\n'
            'plain 4 # {trace_id="y"} 2\n'
            'stamped 5 1700000000000 # {a="b"} 1 2\n')
    assert parse(text) == [("lat_bucket", {"le": "1"}, 3.0, None), ("plain", {}, 4.0, None),
                           ("stamped", {}, 5.0, 1700000000.0)]


def test_le_and_quantile_keep_the_raw_string_and_compare_as_floats():
    text = ('h_bucket{le="1"} 1\nh_bucket{le="2.50"} 2\nh_bucket{le="+Inf"} 3\n'
            's{quantile="0.5"} 7\n')
    samples = parse(text)
    assert [labels for _, labels, _, _ in samples] == [
        {"le": "1"}, {"le": "2.50"}, {"le": "+Inf"}, {"quantile": "0.5"}]
    assert le_float({"le": "1"}) == le_float({"le": "1.0"}) == le_float({"le": "1e0"}) == 1.0
    assert le_float({"le": "+Inf"}) == math.inf
    assert le_float({"quantile": "0.50"}, "quantile") == 0.5


def test_target_labels_added_and_clashes_exported():
    samples = parse_exposition('a{job="old",instance="x:1"} 1\nb{job="j",exported_job="e"} 2\n', "svc", "h:1")
    assert samples[0].labels == {"__name__": "a", "job": "svc", "instance": "h:1",
                                 "exported_job": "old", "exported_instance": "x:1"}
    # exported_job is taken by the exposed label, so the clashing job moves one further
    assert samples[1].labels == {"__name__": "b", "job": "svc", "instance": "h:1",
                                 "exported_job": "e", "exported_exported_job": "j"}


def test_explicit_timestamps_are_milliseconds():
    assert parse("a 1 1700000000123\nb 2 -5000\n") == [("a", {}, 1.0, 1700000000.123), ("b", {}, 2.0, -5.0)]


def test_nan_and_infinities():
    values = [v for _, _, v, _ in parse("a NaN\nb +Inf\nc -Inf\nd Inf\ne 1e-3\n")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, math.inf, 0.001]


def test_escapes_empty_labels_and_repeated_series():
    text = 'a{p="C:\\\\dir",q="say \\"hi\\"\\nbye",empty=""} 1\na{p="C:\\\\dir",q="say \\"hi\\"\\nbye"} 9\n'
    assert parse(text) == [("a", {"p": "C:\\dir", "q": 'say "hi"\nbye'}, 1.0, None)]


def test_comments_help_and_blank_lines_are_ignored():
    text = "# HELP a some help\n\n# a free comment\n# TYPE a gauge\na 1\n# EOF\n"
    assert parse(text) == [("a", {}, 1.0, None)]


@pytest.mark.parametrize("text, message", [
    ("a 1\nb abc\n", "metrics: line 2: invalid value 'abc'"),
    ("a 1 2 3\n", "metrics: line 1: unexpected '3' after the timestamp"),
    ("a 1 soon\n", "metrics: line 1: invalid timestamp 'soon' (integer milliseconds expected)"),
    ("a\n", "metrics: line 1: no value after 'a'"),
    ("\n\na{b=c} 1\n", "metrics: line 3: invalid labels: b=c"),
    ('a{b="c} 1\n', "metrics: line 1: unclosed label set '{'"),
    ("# TYPE a gauges\na 1\n", "metrics: line 1: unknown metric type 'gauges'"),
    ("# TYPE a\n", "metrics: line 1: cannot parse '# TYPE a'"),
    ("1a 2\n", "metrics: line 1: invalid metric name '1a'"),
    ("a 1_000\n", "metrics: line 1: invalid value '1_000'"),
])
def test_unparsable_body_is_one_line_value_error(text, message):
    with pytest.raises(ValueError) as err:
        parse_exposition(text, "j", "i")
    assert str(err.value) == message


# --- round trip through prometheus_client's own exposition -------------------------------------

NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True)
LABEL_NAMES = NAMES.filter(lambda n: not n.startswith("__") and n not in ("job", "instance", "le", "quantile"))
LABEL_VALUES = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
VALUES = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def families(draw):
    """Metric families of every text-format type; each sample (suffix, labels, value)."""
    out = []
    for name in draw(st.lists(NAMES, min_size=1, max_size=4)):
        name = f"m{len(out)}_{name}"  # distinct families never share a sample name
        typ = draw(st.sampled_from(["counter", "gauge", "untyped", "histogram", "summary"]))
        label_sets = draw(st.lists(st.dictionaries(LABEL_NAMES, LABEL_VALUES, max_size=3), min_size=1, max_size=3,
                                   unique_by=lambda d: tuple(sorted((k, v) for k, v in d.items() if v))))
        metric = Metric(name, "help", "unknown" if typ == "untyped" else typ)
        for labels in label_sets:
            for suffix, extra in _suffixes(draw, typ):
                metric.add_sample(name + suffix, {**labels, **extra}, draw(VALUES))
        out.append(metric)
    return out


def _suffixes(draw, typ):
    if typ == "counter":
        return [("_total", {}), ("_created", {})]
    if typ == "histogram":
        bounds = draw(st.lists(st.floats(-1e6, 1e6), max_size=3, unique=True))
        return [("_bucket", {"le": repr(b)}) for b in sorted(bounds)] + [
            ("_bucket", {"le": "+Inf"}), ("_sum", {}), ("_count", {})]
    if typ == "summary":
        return [("", {"quantile": "0.5"}), ("_sum", {}), ("_count", {})]
    return [("", {})]


class _Collector:
    def __init__(self, metrics):
        self.metrics = metrics

    def collect(self):
        return self.metrics


def _order(sample):
    return sorted(sample[0].items())  # generate_latest moves `_created` samples after their family


@settings(max_examples=150, deadline=None)
@given(families())
def test_generate_latest_round_trip(metrics):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(metrics))
    text = generate_latest(registry).decode()
    got = sorted(((s.labels, s.value) for s in parse_exposition(text, "j", "i")), key=_order)
    # label values keep their text but lose terminal escapes and control characters (they are service text)
    want, seen = [], set()
    for s in (s for m in metrics for s in m.samples):
        labels = {"__name__": s.name, **{k: strip_controls(v, keep_newlines=True) for k, v in s.labels.items()
                                        if strip_controls(v, keep_newlines=True) != ""}, "job": "j", "instance": "i"}
        if (key := tuple(sorted(labels.items()))) not in seen:  # a label emptied of its escapes is absent: the
            seen.add(key)  # series can repeat an earlier one, and Prometheus keeps the first sample of a series
            want.append((labels, s.value))
    want.sort(key=_order)
    assert [labels for labels, _ in got] == [labels for labels, _ in want]
    for (_, g), (_, w) in zip(got, want):
        assert (math.isnan(g) and math.isnan(w)) or g == w
