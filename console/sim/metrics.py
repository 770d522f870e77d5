"""Prometheus exposition of model state: families built from the model at scrape time, not live counters."""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

# The classic text format: every name here is a legacy-valid name, and older scrapers
# (Debian's Prometheus 2.42) know this version string.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Values = Mapping[tuple[str, ...], float]
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)  # both duration histograms (+Inf implied)


class _ModelCollector:
    """Adapts a function returning metric families to prometheus_client's collector protocol."""

    def __init__(self, families: Callable[[], Iterable[Metric]]) -> None:
        self._families = families

    def describe(self) -> list[Metric]:
        return []  # keeps the registry from collecting (and advancing nothing) at registration

    def collect(self) -> Iterable[Metric]:
        return self._families()


def registry(families: Callable[[], Iterable[Metric]]) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_ModelCollector(families))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)


def counter(name: str, doc: str, labels: Sequence[str], values: Values) -> CounterMetricFamily:
    """A counter family; `values` maps label-value tuples (in `labels` order) to totals."""
    fam = CounterMetricFamily(name, doc, labels=list(labels))
    for key in sorted(values):
        fam.add_metric(list(key), values[key])
    return fam


def keyed(values: Mapping[str, float]) -> dict[tuple[str], float]:
    """{"a": 1} → {("a",): 1}, for families with a single label."""
    return {(k,): v for k, v in values.items()}


def gauge(name: str, doc: str, labels: Sequence[str], values: Values) -> GaugeMetricFamily:
    fam = GaugeMetricFamily(name, doc, labels=list(labels))
    for key in sorted(values):
        fam.add_metric(list(key), values[key])
    return fam


def histogram(name: str, doc: str, bounds: Sequence[float], counts: Sequence[int],
              total: float) -> HistogramMetricFamily:
    """An unlabelled histogram from per-bucket counts (`len(bounds) + 1`, the last for +Inf)."""
    cumulative, running = [], 0
    for bound, n in zip(list(bounds) + [float("inf")], counts):
        running += n
        cumulative.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
    return HistogramMetricFamily(name, doc, buckets=cumulative, sum_value=total)
