"""Pulse conversion pipeline (CONTRACTS.md §1): its endpoints and the readers of their JSON."""

from __future__ import annotations

from console.config.schema import Service
from .base import Endpoint, json_endpoint, metrics_endpoint
from .schema import Schema, boolean, counts, equals, num, one_of, rows, strings, text, when

FRONTEND_TYPES = ("paywall_viewed", "upgrade_clicked")
# Backend emission is deferred (runbook): their absence is expected, so gauges say which they are.
DEFERRED_TYPES = ("trial_started", "license_activated", "license_activation_failed", "checkout_started",
                  "limit_warning_shown", "limit_blocked")
STATUSES = ("healthy", "stale", "degraded")


def endpoints(service: Service) -> list[Endpoint]:
    return [
        json_endpoint(service, "health", "/api/health"),
        json_endpoint(service, "conversion_health", "/api/conversion/health"),
        json_endpoint(service, "stats", "/api/conversion/stats"),
        json_endpoint(service, "config", "/api/conversion/config"),
        metrics_endpoint(service),
    ]


def _types_seen(data: dict) -> list[tuple[str, dict, float]]:
    seen = data["events_by_type"]
    if seen is None:  # unknown, not "none seen"
        return []
    return [("opsconsole_conversion_type_seen", {"type": t, "deferred": str(t in DEFERRED_TYPES).lower()},
             float(seen.get(t, 0) > 0)) for t in FRONTEND_TYPES + DEFERRED_TYPES]


READERS = {
    "health": Schema(equals("status", "ok", "opsconsole_up", endpoint="health")),
    "conversion_health": Schema(
        one_of("status", STATUSES, "opsconsole_conversion_status", label="status"),
        num("last_event_age_seconds", "opsconsole_conversion_last_event_age_seconds"),
        when("started_at"),
        counts("events_by_type"),
        strings("known_types"),
        num("coverage", "opsconsole_conversion_coverage_ratio"),
        extra=_types_seen,
    ),
    "stats": Schema(
        when("window_start"),
        num("window_seconds"),
        num("bucket_count", "opsconsole_conversion_bucket_count"),
        rows("buckets", Schema(text("key"), text("type"), num("count"))),
        num("total"),
    ),
    "config": Schema(
        boolean("enabled", "opsconsole_conversion_enabled"),
        strings("disabled_surfaces", "opsconsole_conversion_disabled_surfaces"),
    ),
}
