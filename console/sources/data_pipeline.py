"""Convergence data pipeline (CONTRACTS.md §5): its endpoints and the readers of their JSON."""

from __future__ import annotations

from console.config.schema import Service
from .base import WINDOWED_EVERY, Endpoint, json_endpoint, metrics_endpoint
from .converge import READY
from .schema import Schema, ident, rows, text, when


def endpoints(service: Service) -> list[Endpoint]:
    return [
        json_endpoint(service, "ready", "/health/ready", accept=(200, 503)),
        json_endpoint(service, "failed", "/api/v1/pipelines/executions?status=failed"),
        metrics_endpoint(service, usual=WINDOWED_EVERY),  # 5 min rates and p95, the queue gauge (alert after 1 m)
    ]


READERS = {
    "ready": READY,
    "failed": Schema(
        rows("executions", Schema(ident("id"), ident("pipeline_id"), ident("tenant_id"), text("status"),
                                  text("error"), when("started_at")),
             gauge="opsconsole_data_pipeline_failed_executions"),
    ),
}
