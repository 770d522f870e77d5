"""The record every source and the replay emit: one Observation per poll of one endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Labels = dict[str, str]  # includes "__name__"


@dataclass(frozen=True)
class Sample:
    labels: Labels
    value: float
    ts: float | None = None  # explicit exposition timestamp (seconds); None = the scrape time


@dataclass(frozen=True)
class Observation:
    """What one poll of one endpoint saw.

    Exactly one of `samples` (a /metrics scrape), `payload` (parsed JSON body, as received)
    or `error` (one line, secrets never included) is meaningful.
    """

    ts: float
    source: str  # service name from the config
    endpoint: str  # endpoint key, e.g. "metrics", "health", "switches"
    samples: tuple[Sample, ...] | None = None
    payload: Any = None
    error: str | None = None
    status: int | None = None  # HTTP status, when there was one
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None
