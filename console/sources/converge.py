"""Converge (CONTRACTS.md §3): its endpoints and the readers of their JSON."""

from __future__ import annotations

from console.config.schema import Service
from .base import WINDOWED_EVERY, Endpoint, json_endpoint, metrics_endpoint
from .schema import Schema, boolean, equals, num, one_of, per_row, rows, text, when

MODES = ("open", "throttle", "pause", "auto")
DEBT_COMPONENTS = ("staleness", "queue_pressure", "review_backlog", "conflict_pressure", "retry_pressure")
REVIEW_STATES = ("pending", "assigned", "completed", "cancelled", "escalated")
SEVERITIES = ("critical", "high", "medium", "low")
QUEUE_STATES = ("validated", "queued", "processing")

# Shared with the data pipeline, whose /health/ready is "as Converge's".
READY = Schema(equals("status", "ready", "opsconsole_ready"), text("reason"))


def endpoints(service: Service) -> list[Endpoint]:
    return [
        json_endpoint(service, "ready", "/health/ready", accept=(200, 503)),
        json_endpoint(service, "debt", "/v1/verification/debt"),
        json_endpoint(service, "intake", "/v1/intake/status"),
        json_endpoint(service, "flags", "/v1/flags"),
        json_endpoint(service, "reviews", "/v1/reviews/summary"),
        json_endpoint(service, "security", "/v1/security/summary"),
        json_endpoint(service, "queue", "/v1/queue/state"),
        metrics_endpoint(service, usual=WINDOWED_EVERY),  # a 5 min rate and the queue depth; its rules read the JSON
    ]


READERS = {
    "ready": READY,
    "debt": Schema(
        num("debt_score", "opsconsole_converge_debt_score"),
        *(num(f"{c}_score", "opsconsole_converge_debt_component", component=c) for c in DEBT_COMPONENTS),
        text("status"),
        text("tenant_id"),
        when("computed_at"),
    ),
    "intake": Schema(
        one_of("mode", MODES, "opsconsole_converge_intake_mode", label="mode"),
        one_of("effective_mode", MODES, "opsconsole_converge_intake_effective_mode", label="mode"),
        num("stats.accepted_1h"),
        num("stats.throttled_1h"),
        num("stats.rejected_1h"),
    ),
    "flags": Schema(
        rows("flags", Schema(text("name"), boolean("enabled"), text("mode"), text("source"))),
        extra=per_row("flags", "opsconsole_converge_flag_enabled", "flag", "name", "enabled"),
    ),
    "reviews": Schema(
        *(num(s, "opsconsole_converge_reviews", state=s) for s in REVIEW_STATES),
        num("sla_breaches", "opsconsole_converge_review_sla_breaches"),
        num("oldest_pending_seconds", "opsconsole_converge_review_oldest_pending_seconds"),
    ),
    "security": Schema(
        *(num(s, "opsconsole_converge_security_findings", severity=s) for s in SEVERITIES),
        when("last_scan_at"),
    ),
    "queue": Schema(
        *(num(s, "opsconsole_converge_queue", state=s) for s in QUEUE_STATES),
        boolean("locked", "opsconsole_converge_queue_locked"),
        num("lock_age_seconds", "opsconsole_converge_queue_lock_age_seconds"),
    ),
}
