"""Prometheus exposition of model state: families written from the model at scrape time, not live counters.

The text is the bytes prometheus_client's `generate_latest` writes for the same families (tests/test_sim_wire.py
compares them), written directly: `generate_latest` formats and validates every label of every sample on every
scrape, and was most of a scrape's cost in the demo's simulator child (conversion's /metrics is read every second).
Here a sample's name and labels are formatted once per label set (`_head`) and only its value at each scrape.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence

# The classic text format: every name here is a legacy-valid name, and older scrapers
# (Debian's Prometheus 2.42) know this version string.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Values = Mapping[tuple[str, ...], float]
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)  # both duration histograms (+Inf implied)
_INF = float("inf")


def exposition(families: Callable[[], Iterable[str]]) -> bytes:
    """The text format of the families a model yields now (each family already written as text)."""
    return "".join(families()).encode("utf-8")


def go_float(value: float) -> str:
    """A sample's value as prometheus_client writes it (its `floatToGoString`: Go's exponent from 1e7 up)."""
    d = float(value)
    s = repr(d)
    if d > 0:
        if d == _INF:
            return "+Inf"
        dot = s.find(".")
        if dot > 6:
            mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
            return f"{mantissa}e+{dot - 1:02d}"
        return s
    if d == -_INF:
        return "-Inf"
    if math.isnan(d):
        return "NaN"
    return s


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@lru_cache(maxsize=4096)  # label sets are few and stable; a service's hostile ones cannot grow this without bound
def _head(sample: str, names: tuple[str, ...], values: tuple[str, ...]) -> str:
    """`name{a="x",b="y"} ` (labels in name order, as generate_latest sorts them), or `name ` without labels."""
    if not names:
        return sample + " "
    pairs = sorted(zip(names, values))
    return sample + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "} "


def _family(name: str, doc: str, kind: str) -> str:
    doc = doc.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"


def _samples(name: str, doc: str, kind: str, sample: str, labels: Sequence[str], values: Values) -> str:
    names = tuple(labels)
    out = [_family(name, doc, kind)]
    for key in sorted(values):
        out.append(_head(sample, names, tuple(key)) + go_float(values[key]) + "\n")
    return "".join(out)


def counter(name: str, doc: str, labels: Sequence[str], values: Values) -> str:
    """A counter family; `values` maps label-value tuples (in `labels` order) to totals."""
    base = name.removesuffix("_total")
    return _samples(base + "_total", doc, "counter", base + "_total", labels, values)


def keyed(values: Mapping[str, float]) -> dict[tuple[str], float]:
    """{"a": 1} → {("a",): 1}, for families with a single label."""
    return {(k,): v for k, v in values.items()}


def gauge(name: str, doc: str, labels: Sequence[str], values: Values) -> str:
    return _samples(name, doc, "gauge", name, labels, values)


def histogram(name: str, doc: str, bounds: Sequence[float], counts: Sequence[int], total: float) -> str:
    """An unlabelled histogram from per-bucket counts (`len(bounds) + 1`, the last for +Inf)."""
    out, running = [_family(name, doc, "histogram")], 0
    bucket = name + "_bucket"
    for bound, n in zip(list(bounds) + [_INF], counts):
        running += n
        le = "+Inf" if bound == _INF else repr(float(bound))
        out.append(_head(bucket, ("le",), (le,)) + go_float(running) + "\n")
    out.append(f"{name}_count {go_float(running)}\n{name}_sum {go_float(total)}\n")
    return "".join(out)
