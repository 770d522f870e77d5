"""A plain Prometheus target: only its /metrics, no JSON endpoints."""

from __future__ import annotations

from console.config.schema import Service
from .base import Endpoint, metrics_endpoint


def endpoints(service: Service) -> list[Endpoint]:
    return [metrics_endpoint(service)]


READERS: dict = {}
