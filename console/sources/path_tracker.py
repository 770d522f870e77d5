"""Path tracker (CONTRACTS.md §4): its endpoints and the readers of their JSON."""

from __future__ import annotations

from console.config.schema import Service
from .base import WINDOWED_EVERY, Endpoint, json_endpoint, metrics_endpoint
from .schema import Schema, boolean, ident, num, rows, strings, text, when

P = "opsconsole_path_tracker_"


def endpoints(service: Service) -> list[Endpoint]:
    # Analytics and the alert list are heavy admin queries that change slowly: poll them less.
    return [
        json_endpoint(service, "ops", "/api/admin/path-tracker/ops"),
        json_endpoint(service, "analytics", "/api/admin/path-tracker/analytics?days=14", min_interval=60.0),
        json_endpoint(service, "alerts", "/api/admin/path-tracker/alerts?page=1&pageSize=20&status=failed",
                      min_interval=15.0),
        metrics_endpoint(service, usual=WINDOWED_EVERY),  # rates over 1 h, 15 m and 5 m
    ]


READERS = {
    "ops": Schema(
        boolean("enabled", P + "enabled"),
        num("rollout.percent", P + "rollout_percent"),
        strings("rollout.allowlist", P + "allowlist_size"),
        strings("rollout.denylist", P + "denylist_size"),
        num("recentFailedAlerts1h", P + "failed_alerts_1h"),
        num("fallbackRate1h", P + "fallback_rate_1h"),
        num("generateErrorRate15m", P + "generate_error_rate_15m"),
        boolean("signals.fallbackTriggered"),
        boolean("signals.generateErrorTriggered"),
        num("stepCompletions1h", P + "step_completions_1h"),
    ),
    "analytics": Schema(
        rows("days", Schema(text("date"), num("steps_started"), num("steps_completed"), num("fallbacks"),
                            num("generate_errors"))),
    ),
    "alerts": Schema(
        num("page"),
        num("pageSize"),
        num("total", P + "failed_deliveries"),  # the endpoint is polled with status=failed
        rows("items", Schema(ident("id"), when("createdAt"), text("kind"), text("status"), text("errorText"),
                             num("attempts"))),
    ),
}
