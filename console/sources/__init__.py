"""Service sources: a poller per service kind (`build_source`) and the pure reader of its payloads (`read`)."""

from __future__ import annotations

from typing import Any

from . import alertmanager, conversion, converge, data_pipeline, path_tracker, pipelines, scrape
from .base import Endpoint, Source, SourceError, build_source
from .exposition import le_float, parse_exposition
from .schema import Reading

__all__ = ["Endpoint", "Reading", "Source", "SourceError", "build_source", "le_float", "parse_exposition", "read"]

_READERS = {
    "conversion": conversion.READERS,
    "pipelines": pipelines.READERS,
    "converge": converge.READERS,
    "path_tracker": path_tracker.READERS,
    "data_pipeline": data_pipeline.READERS,
    "scrape": scrape.READERS,
    "alertmanager": alertmanager.READERS,
}


def read(kind: str, endpoint: str, payload: Any, job: str, instance: str) -> Reading:
    """Normalize one JSON payload (live or replayed) and derive its gauges; ValueError("<endpoint>: ...")."""
    if endpoint == "metrics":  # scraped samples go straight to the store: nothing to normalize
        return Reading({}, [])
    schema = _READERS.get(kind, {}).get(endpoint)
    if schema is None:
        raise ValueError(f"{endpoint}: no reader for a {kind} service")
    return schema.read(endpoint, payload, job, instance)
