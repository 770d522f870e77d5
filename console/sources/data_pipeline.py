"""Convergence data pipeline (CONTRACTS.md §5): its endpoints and the readers of their JSON."""

from __future__ import annotations

from console.config.schema import Service
from .base import Endpoint, json_endpoint, metrics_endpoint
from .converge import READY
from .schema import Schema, ident, rows, text, when


# Every figure of the strip and every rule of the data-pipeline runbook reads a 5 min window (rates, p95) or a
# gauge whose alert waits a minute (queue fill): a scrape every 5 s (as its JSON is read) moves no figure sooner
# than a person would read it, and its 51 series a second were the second largest share of the demo's polling,
# parsing and recording. A config's `metrics_interval` still decides.
METRICS_EVERY = 5.0


def endpoints(service: Service) -> list[Endpoint]:
    return [
        json_endpoint(service, "ready", "/health/ready", accept=(200, 503)),
        json_endpoint(service, "failed", "/api/v1/pipelines/executions?status=failed"),
        metrics_endpoint(service, usual=METRICS_EVERY),
    ]


READERS = {
    "ready": READY,
    "failed": Schema(
        rows("executions", Schema(ident("id"), ident("pipeline_id"), ident("tenant_id"), text("status"),
                                  text("error"), when("started_at")),
             gauge="opsconsole_data_pipeline_failed_executions"),
    ),
}
