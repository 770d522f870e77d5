"""Panel figures per service kind: the services' own JSON beside what PromQL computes from their counters."""

from __future__ import annotations

import math
from typing import Any, Callable

from console.memento import SNAPSHOT_VERSION, check_version
from console.clock import parse_iso
from console.state import ServiceState

Query = Callable[[str], list[tuple[dict, float]]]

KNOWN_TYPES = ("paywall_viewed", "upgrade_clicked", "trial_started", "license_activated",
               "license_activation_failed", "checkout_started", "limit_warning_shown", "limit_blocked")
DEFERRED_TYPES = frozenset(KNOWN_TYPES[2:])
ROLLOUT_STAGES = (0, 5, 15, 35, 60, 100)

# Every PromQL expression a panel reads, by kind; `$job` is the service's job label.
EXPRS: dict[str, dict[str, str]] = {
    "conversion": {
        "rate_1m": 'sum(rate(pulse_conversion_events_total{job="$job"}[1m]))',
        "rate_5m": 'sum(rate(pulse_conversion_events_total{job="$job"}[5m]))',
        "increase_5m": 'sum(increase(pulse_conversion_events_total{job="$job"}[5m]))',
        "types_seen": 'count(sum by (type) (pulse_conversion_events_total{job="$job"}) > 0)',
        "invalid": 'sum by (reason) (pulse_conversion_events_invalid_total{job="$job"})',
        "dropped_5m": 'sum(increase(pulse_conversion_events_invalid_total{job="$job", reason="cardinality_exceeded"}[5m]))',
        "skipped": 'sum by (reason) (pulse_conversion_events_skipped_total{job="$job"})',
    },
    "pipelines": {
        "sent_1h": 'sum(increase(storytailor_emails_sent_total{job="$job"}[1h]))',
        "failure_rate_1h": 'sum(increase(storytailor_email_failures_total{job="$job"}[1h])) / (sum(increase(storytailor_emails_sent_total{job="$job"}[1h])) + sum(increase(storytailor_email_failures_total{job="$job"}[1h])))',
        "unsubscribe_rate_1h": 'sum(increase(storytailor_unsubscribes_total{job="$job"}[1h])) / sum(increase(storytailor_emails_sent_total{job="$job"}[1h]))',
        "sla_violations_1h": 'sum(increase(storytailor_sla_violations_total{job="$job"}[1h]))',
        "lambda_errors_1h": 'sum(increase(storytailor_lambda_errors_total{job="$job"}[1h]))',
        "vetoes_by_pipeline": 'sum by (pipeline) (increase(storytailor_pipeline_executions_total{job="$job", outcome="vetoed"}[1h]))',
    },
    "converge": {
        "intents_rate_5m": 'sum(rate(converge_intents_processed_total{job="$job"}[5m]))',
        "queue_depth": 'sum(converge_queue_depth{job="$job"})',
    },
    "path_tracker": {
        "fallback_rate_local": 'sum(increase(path_tracker_steps_total{job="$job", outcome="fallback"}[1h])) / sum(increase(path_tracker_steps_total{job="$job"}[1h]))',
        "generate_error_rate_local": 'sum(increase(path_tracker_steps_total{job="$job", outcome="generate_error"}[15m])) / sum(increase(path_tracker_steps_total{job="$job"}[15m]))',
        "steps_rate_5m": 'sum(rate(path_tracker_steps_total{job="$job"}[5m]))',
        "deliveries_failed_1h": 'sum(increase(path_tracker_alert_deliveries_total{job="$job", status="failed"}[1h]))',
    },
    "data_pipeline": {
        "error_ratio_5m": '(sum(rate(http_requests_total{job="$job", status_code=~"5.."}[5m])) or vector(0)) / sum(rate(http_requests_total{job="$job"}[5m]))',
        "p95_5m": 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="$job"}[5m])))',
        "queue_fill": 'sum(metadata_log_queue_size{job="$job"}) / sum(metadata_log_queue_capacity{job="$job"})',
        "rate_limit_rate": 'sum(rate(rate_limit_hits_total{job="$job"}[5m]))',
        "cpu": 'sum(rate(process_cpu_seconds_total{job="$job"}[5m]))',
        "req_rate": 'sum(rate(http_requests_total{job="$job"}[5m]))',
        "auth_fail_rate": 'sum(rate(auth_failures_total{job="$job"}[5m]))',
    },
    "scrape": {
        "up": 'up{job="$job"}',
    },
}

# The series the detail screen plots over the last hour, by kind: (title, expr).
PLOTS: dict[str, list[tuple[str, str]]] = {
    "conversion": [("events/s (1m)", EXPRS["conversion"]["rate_1m"]),
                   ("bucket count", 'opsconsole_conversion_bucket_count{job="$job"}')],
    "pipelines": [("emails sent/s", 'sum(rate(storytailor_emails_sent_total{job="$job"}[5m]))'),
                  ("failures/s", 'sum(rate(storytailor_email_failures_total{job="$job"}[5m]))')],
    "converge": [("debt score", 'opsconsole_converge_debt_score{job="$job"}'),
                 ("pending reviews", 'opsconsole_converge_reviews{job="$job", state="pending"}')],
    "path_tracker": [("fallback rate 1h", EXPRS["path_tracker"]["fallback_rate_local"]),
                     ("generate error rate 15m", EXPRS["path_tracker"]["generate_error_rate_local"])],
    "data_pipeline": [("5xx ratio", EXPRS["data_pipeline"]["error_ratio_5m"]),
                      ("p95 latency s", EXPRS["data_pipeline"]["p95_5m"])],
    "scrape": [("up", 'up{job="$job"}')],
}


# figures that are fractions: the panels (and the detail screen) show them in percent
PERCENT = frozenset({"coverage", "failure_rate_1h", "unsubscribe_rate_1h", "fallback_rate_reported",
                     "fallback_rate_local", "fallback_threshold", "generate_error_rate_reported",
                     "generate_error_rate_local", "generate_error_threshold", "error_ratio_5m", "error_ratio_threshold",
                     "queue_fill", "queue_threshold", "cpu", "cpu_threshold"})


def exprs_for(kind: str, job: str) -> list[str]:
    """Every expression the panel and plots of one service evaluate (for retention)."""
    out = [e.replace("$job", job) for e in EXPRS.get(kind, {}).values()]
    out += [e.replace("$job", job) for _, e in PLOTS.get(kind, [])]
    return out


WARMUP = 300.0  # seconds after a service's start during which types not seen yet are expected


def panel_exprs(kind: str, job: str) -> list[str]:
    """The expressions a service's panel evaluates every tick (its plots only when shown)."""
    return [e.replace("$job", job) for e in EXPRS.get(kind, {}).values()]


def debt_band(score: float | None, yellow: float | None = 30, red: float | None = 70) -> str | None:
    """The band of a score; its edges are the debt rules' thresholds (runbook 002: 30 and 70)."""
    if score is None or not math.isfinite(score):  # NaN is in no band: unknown, never a guess
        return None
    if red is not None and score >= red:
        return "red"
    return "yellow" if yellow is not None and score >= yellow else "green"


def recommended_intake(score: float | None, pending_reviews: float | None, yellow: float | None = 30,
                       red: float | None = 70) -> str | None:
    """Runbook 002 'When to change mode' (incident-in-progress is the operator's call, not shown here)."""
    if score is None or not math.isfinite(score):
        return None
    if red is not None and score > red:
        return "pause"
    if (yellow is not None and score >= yellow) or (pending_reviews or 0) > 10:
        return "throttle"
    return "open"


def _ready(svc: ServiceState) -> bool | None:
    status = svc.data("ready").get("status")
    return None if status is None else status == "ready"


class Figures:
    """Computes one service's figures each tick; remembers only when a rollout stage began."""

    def __init__(self, markers: dict[str, dict[str, float | None]] | None = None) -> None:
        self._stage_seen: dict[str, tuple[float, float]] = {}  # service → (percent, since)
        self.markers = markers or {}  # service → the thresholds its panel marks, from the loaded rules

    def reset(self) -> None:
        self._stage_seen.clear()

    def snapshot(self) -> dict[str, Any]:
        """When each service's rollout stage began: {"stages": {service: [percent, since]}}."""
        return {"v": SNAPSHOT_VERSION, "stages": {name: [p, since] for name, (p, since) in self._stage_seen.items()}}

    def restore(self, data: dict[str, Any]) -> None:
        check_version(data, "panel figures")
        self._stage_seen = {name: (p, since) for name, (p, since) in data["stages"].items()}

    def compute(self, svc: ServiceState, job: str, query: Query, now: float) -> dict[str, Any]:
        vals = {k: query(e.replace("$job", job)) for k, e in EXPRS.get(svc.kind, {}).items()}
        fn = getattr(self, f"_{svc.kind}", None)
        marks = self.markers.get(svc.name, {})
        return {**fn(svc, vals, now, marks), **marks} if fn else {}

    @staticmethod
    def _one(result: list[tuple[dict, float]]) -> float | None:
        if not result:
            return None
        v = result[0][1]
        return None if math.isnan(v) else v

    @staticmethod
    def _by(result: list[tuple[dict, float]], label: str) -> dict[str, float]:
        return {lbl.get(label, ""): v for lbl, v in result}

    def _conversion(self, svc: ServiceState, vals: dict, now: float, marks: dict) -> dict[str, Any]:
        health, stats, cfg = svc.data("conversion_health"), svc.data("stats"), svc.data("config")
        by_type = health.get("events_by_type")
        # no reading (refused, failing, not polled yet): the types are unknown, not missing
        types = None if not isinstance(by_type, dict) else [
            {"type": t, "count": by_type.get(t), "deferred": t in DEFERRED_TYPES, "seen": bool(by_type.get(t))}
            for t in KNOWN_TYPES]
        increase_5m = self._one(vals["increase_5m"])
        seen_local = self._one(vals["types_seen"]) or 0
        computed = None
        if increase_5m is not None:
            if increase_5m == 0:
                computed = "stale"
            elif seen_local / len(KNOWN_TYPES) < 0.5:
                computed = "degraded"
            else:
                computed = "healthy"
        reported = health.get("status")
        missing_unexpected = None if types is None else [t["type"] for t in types
                                                         if not t["seen"] and not t["deferred"]]
        # a service that started minutes ago has not seen every frontend type yet: that is not a gap (the
        # runbook's stale/missing thresholds are 5 minutes)
        try:
            young = now - parse_iso(health["started_at"]) < WARMUP
        except (KeyError, TypeError, ValueError):
            young = False
        return {
            "status_reported": reported,
            "status_computed": computed,
            "status_disagree": bool(reported and computed and reported != computed),
            "degraded_expected": reported == "degraded" and not missing_unexpected,
            "last_event_age": health.get("last_event_age_seconds"),
            "rate_1m": self._one(vals["rate_1m"]),
            "rate_5m": self._one(vals["rate_5m"]),
            "coverage": health.get("coverage"),
            "types": types,
            "missing_unexpected": missing_unexpected,
            "warming_up": young,
            "invalid": self._by(vals["invalid"], "reason"),
            "dropped_5m": self._one(vals["dropped_5m"]),
            "skipped": self._by(vals["skipped"], "reason"),
            "bucket_count": stats.get("bucket_count"),
            "bucket_limit": marks.get("bucket_limit"),
            "surfaces": sorted({(b.get("key") or "").split(":")[0] for b in stats.get("buckets") or [] if b.get("key")}),
            "enabled": cfg.get("enabled"),
            "disabled_surfaces": cfg.get("disabled_surfaces"),
        }

    def _pipelines(self, svc: ServiceState, vals: dict, now: float, marks: dict) -> dict[str, Any]:
        return {
            "switches": svc.data("switches").get("switches"),
            "sent_1h": self._one(vals["sent_1h"]),
            "failure_rate_1h": self._one(vals["failure_rate_1h"]),
            "unsubscribe_rate_1h": self._one(vals["unsubscribe_rate_1h"]),
            "sla_violations_1h": self._one(vals["sla_violations_1h"]),
            "lambda_errors_1h": self._one(vals["lambda_errors_1h"]),
            "vetoes_1h": self._by(vals["vetoes_by_pipeline"], "pipeline"),
        }

    def _converge(self, svc: ServiceState, vals: dict, now: float, marks: dict) -> dict[str, Any]:
        debt, intake, reviews = svc.data("debt"), svc.data("intake"), svc.data("reviews")
        score = debt.get("debt_score")
        pending = reviews.get("pending")
        yellow, red = marks.get("debt_yellow", 30), marks.get("debt_red", 70)
        recommended = recommended_intake(score, pending, yellow, red)
        effective = intake.get("effective_mode") or intake.get("mode")
        strict = {"open": 0, "auto": 0, "throttle": 1, "pause": 2}
        return {
            "ready": _ready(svc),
            "ready_reason": svc.data("ready").get("reason"),
            "debt_score": score,
            "debt_band": debt_band(score, yellow, red),
            "debt_status": debt.get("status"),
            "components": {k: debt.get(f"{k}_score") for k in
                           ("staleness", "queue_pressure", "review_backlog", "conflict_pressure", "retry_pressure")},
            "intake_mode": intake.get("mode"),
            "effective_mode": effective,
            "recommended_mode": recommended,
            "intake_mismatch": bool(recommended and effective and strict.get(effective, 0) < strict[recommended]),
            "intake_stats": intake.get("stats"),
            "reviews": reviews or None,
            "security": svc.data("security") or None,
            "queue": svc.data("queue") or None,
            "flags": svc.data("flags").get("flags"),
            "intents_rate_5m": self._one(vals["intents_rate_5m"]),
        }

    def _path_tracker(self, svc: ServiceState, vals: dict, now: float, marks: dict) -> dict[str, Any]:
        ops = svc.data("ops")
        rollout = ops.get("rollout") or {}
        percent = rollout.get("percent")
        since = None
        if percent is not None:
            prev = self._stage_seen.get(svc.name)
            if prev is None or prev[0] != percent:
                self._stage_seen[svc.name] = (percent, now)
            since = self._stage_seen[svc.name][1]
        return {
            "enabled": ops.get("enabled"),
            "percent": percent,
            "stages": list(ROLLOUT_STAGES),
            "stage_since": since,
            "allowlist": len(rollout.get("allowlist") or []) if rollout.get("allowlist") is not None else None,
            "denylist": len(rollout.get("denylist") or []) if rollout.get("denylist") is not None else None,
            "fallback_rate_reported": ops.get("fallbackRate1h"),
            "fallback_rate_local": self._one(vals["fallback_rate_local"]),

            "generate_error_rate_reported": ops.get("generateErrorRate15m"),
            "generate_error_rate_local": self._one(vals["generate_error_rate_local"]),

            "failed_alerts_1h": ops.get("recentFailedAlerts1h"),
            "failed_deliveries": svc.data("alerts").get("total"),
            "step_completions_1h": ops.get("stepCompletions1h"),
            "steps_rate_5m": self._one(vals["steps_rate_5m"]),
        }

    def _data_pipeline(self, svc: ServiceState, vals: dict, now: float, marks: dict) -> dict[str, Any]:
        failed = svc.data("failed").get("executions")
        return {
            "ready": _ready(svc),
            "ready_reason": svc.data("ready").get("reason"),
            "error_ratio_5m": self._one(vals["error_ratio_5m"]),
            "p95_5m": self._one(vals["p95_5m"]),
            "queue_fill": self._one(vals["queue_fill"]),
            "rate_limit_rate": self._one(vals["rate_limit_rate"]),
            "cpu": self._one(vals["cpu"]),
            "req_rate": self._one(vals["req_rate"]),
            "auth_fail_rate": self._one(vals["auth_fail_rate"]),
            "failed_executions": failed,
        }

    def _scrape(self, svc: ServiceState, vals: dict, now: float, marks: dict) -> dict[str, Any]:
        return {"up": self._one(vals["up"])}
