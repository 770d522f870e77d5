"""Reparser (successive scrapes of one target) gives exactly what a full parse_exposition gives, errors included."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from console.sources.exposition import Reparser, parse_exposition

NAMES = ["m", "m_total", "h_bucket", "h_sum", "up"]
VALUES = ["0", "1", "-0", "007", "1e3", "2.5", "NaN", "+Inf", "-Inf", "123456789012345678901",
          "1_0", "0x1", "abc", ""]  # the last four are refused by a full parse
STAMPS = [None, "1700000000000", "-5", "1.5", "x"]
label_value = st.text(alphabet='ab "\\\n}#{=,', max_size=5)
labels = st.dictionaries(st.sampled_from(["a", "le", "job", "instance"]), label_value, max_size=3)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, lbls: dict, value: str, stamp: str | None) -> str:
    body = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in lbls.items()) + "}" if lbls else ""
    return f"{name}{body} {value}" + (f" {stamp}" if stamp is not None else "")


series = st.tuples(st.sampled_from(NAMES), labels)
bodies = st.lists(series, min_size=1, max_size=8)


def _outcome(fn, text: str):
    try:
        return [(tuple(sorted(s.labels.items())), struct.pack("<d", s.value), s.ts) for s in fn(text)]
    except ValueError as e:
        return ("error", str(e))


def _render(lines: list[tuple], values: list[str], stamps: list[str | None], comments: bool) -> str:
    out = ["# HELP m a metric", "# TYPE m_total counter"] if comments else []
    out += [_line(n, l, v, t) for (n, l), v, t in zip(lines, values, stamps)]
    return "\n".join(out) + "\n"


@settings(max_examples=400, deadline=None)
@given(
    lines=bodies,
    data=st.data(),
    comments=st.booleans(),
    change=st.sampled_from(["values", "values", "values", "swap", "drop", "exemplar", "comment", "add"]),
)
def test_second_scrape_matches_a_full_parse(lines, data, comments, change) -> None:
    n = len(lines)
    v1 = data.draw(st.lists(st.sampled_from(VALUES[:10]), min_size=n, max_size=n))
    v2 = data.draw(st.lists(st.sampled_from(VALUES), min_size=n, max_size=n))
    t1 = data.draw(st.lists(st.sampled_from(STAMPS[:2]), min_size=n, max_size=n))
    t2 = data.draw(st.lists(st.sampled_from(STAMPS), min_size=n, max_size=n))
    first = _render(lines, v1, t1, comments)
    lines2 = list(lines)
    if change == "swap" and n > 1:
        lines2[0], lines2[-1] = lines2[-1], lines2[0]
    elif change == "drop" and n > 1:
        lines2, v2, t2 = lines2[1:], v2[1:], t2[1:]
    elif change == "add":  # a series appears (then the first body again: every line of it known)
        lines2 = lines2 + [data.draw(series)]
        v2 = v2 + [data.draw(st.sampled_from(VALUES))]
        t2 = t2 + [data.draw(st.sampled_from(STAMPS))]
    second = _render(lines2, v2, t2, comments)
    if change == "exemplar":
        second = second.replace("\n", ' # {trace_id="x"} 1.0\n', 1) if not comments else second
    elif change == "comment":
        second = "# TYPE m gauge\n" + second
    r = Reparser("job1", "host:9")
    assert _outcome(r.parse, first) == _outcome(lambda t: parse_exposition(t, "job1", "host:9"), first)
    assert _outcome(r.parse, second) == _outcome(lambda t: parse_exposition(t, "job1", "host:9"), second)
    # and a third scrape, after whatever the second one taught it, and one with the second's values again
    assert _outcome(r.parse, first) == _outcome(lambda t: parse_exposition(t, "job1", "host:9"), first)
    assert _outcome(r.parse, second) == _outcome(lambda t: parse_exposition(t, "job1", "host:9"), second)
    third = _render(lines2[::-1], v2[::-1], t2[::-1], comments)  # every line known, in another order
    assert _outcome(r.parse, third) == _outcome(lambda t: parse_exposition(t, "job1", "host:9"), third)


def test_reuses_labels_for_an_unchanged_shape() -> None:
    r = Reparser("job1", "host:9")
    first = r.parse('# TYPE x counter\nx{a="1"} 1\nx{a="2"} 2 1700000000000\n')
    second = r.parse('# TYPE x counter\nx{a="1"} 5\nx{a="2"} -0 1700000001000\n')
    assert [(s.labels, s.value, s.ts) for s in second] == [
        ({"__name__": "x", "a": "1", "job": "job1", "instance": "host:9"}, 5.0, None),
        ({"__name__": "x", "a": "2", "job": "job1", "instance": "host:9"}, 0.0, 1700000001.0),
    ]
    assert second[0].labels is not first[0].labels  # a fresh dict each time: callers may keep it


def test_a_series_appearing_or_vanishing_keeps_the_cheap_path(monkeypatch) -> None:
    from console.sources import exposition

    r = Reparser("job1", "host:9")
    r.parse('# TYPE x counter\nx{a="1"} 1\n')
    r.parse('# TYPE x counter\nx{a="1"} 2\nx{a="2"} 1\n')  # x{a="2"} is new: one full parse learns it
    full = []
    monkeypatch.setattr(exposition, "parse_exposition", lambda *a: full.append(a) or parse_exposition(*a))
    got = r.parse('# TYPE x counter\nx{a="2"} 7 1700000000000\n')  # x{a="1"} vanished: known lines only
    again = r.parse('# TYPE x counter\nx{a="2"} 8\nx{a="1"} 3\n')
    assert full == []  # neither needed a full parse
    assert [(s.labels["a"], s.value, s.ts) for s in got] == [("2", 7.0, 1700000000.0)]
    assert [(s.labels["a"], s.value) for s in again] == [("2", 8.0), ("1", 3.0)]
    r.parse('# TYPE x counter\nx{a="3"} 1\n')
    assert len(full) == 1  # an unknown series: the full parse
