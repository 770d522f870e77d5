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
        "events_total": 'sum(pulse_conversion_events_total{job="$job"})',
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

# The window each windowed figure reads, in seconds: right after start (or a fallback to local scraping) the
# console holds less data than that, and a rate over it reads low — the figure is marked "filling".
WINDOWS: dict[str, float] = {
    "rate_1m": 60, "rate_5m": 300, "dropped_5m": 300, "status_computed": 300,
    "sent_1h": 3600, "failure_rate_1h": 3600, "unsubscribe_rate_1h": 3600, "sla_violations_1h": 3600,
    "lambda_errors_1h": 3600, "vetoes_1h": 3600,
    "intents_rate_5m": 300,
    "fallback_rate_local": 3600, "generate_error_rate_local": 900, "steps_rate_5m": 300,
    "error_ratio_5m": 300, "p95_5m": 300, "rate_limit_rate": 300, "cpu": 300, "req_rate": 300,
    "auth_fail_rate": 300,
}


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


def coarse(seconds: float) -> str:
    """A duration to the minute, for reasons shown in words (<1m, 4m, 2h05m)."""
    s = int(seconds)
    if s < 60:
        return "<1m"
    return f"{s // 60}m" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}m"


def _ready(svc: ServiceState) -> bool | None:
    status = svc.data("ready").get("status")
    return None if status is None else status == "ready"


class Figures:
    """Computes one service's figures each tick; remembers when a rollout stage began and when the events counter
    last rose (snapshot / restore: a recording's keyframes keep both)."""

    def __init__(self, markers: dict[str, dict[str, float | None]] | None = None) -> None:
        # service → (percent, since, seen_change): seen_change False while `since` is only when the console first
        # saw that stage (the stage began earlier, unknown when)
        self._stage_seen: dict[str, tuple[float, float, bool]] = {}
        # service → (events total, when it last increased or None, when the console began watching it)
        self._events: dict[str, tuple[float, float | None, float]] = {}
        self.markers = markers or {}  # service → the thresholds its panel marks, from the loaded rules

    def reset(self) -> None:
        self._stage_seen.clear()
        self._events.clear()

    def snapshot(self) -> dict[str, Any]:
        """When each service's rollout stage began: {"stages": {service: [percent, since, seen_change]}}, and
        when its events counter last increased: {"events": {service: [total, last_increase, watching_since]}}."""
        return {"v": SNAPSHOT_VERSION,
                "stages": {name: list(seen) for name, seen in self._stage_seen.items()},
                "events": {name: list(ev) for name, ev in self._events.items()}}

    def restore(self, data: dict[str, Any]) -> None:
        check_version(data, "panel figures")
        # recordings made before seen_change / events were kept: a stage's start unknown, no increase seen
        self._stage_seen = {name: (v[0], v[1], bool(v[2]) if len(v) > 2 else False)
                            for name, v in data["stages"].items()}
        self._events = {name: (v[0], v[1], v[2]) for name, v in (data.get("events") or {}).items()}

    def compute(self, svc: ServiceState, job: str, query: Query, now: float,
                window_since: float | None = None) -> dict[str, Any]:
        """The panel's figures; `window_since` is when the data the windows read begins (None: complete, e.g. a
        Prometheus server's history) — a figure whose window reaches before it is listed in "filling"."""
        vals = {k: query(e.replace("$job", job)) for k, e in EXPRS.get(svc.kind, {}).items()}
        fn = getattr(self, f"_{svc.kind}", None)
        marks = self.markers.get(svc.name, {})
        if not fn:
            return {}
        out = {**fn(svc, vals, now, marks), **marks}
        # past the longest window it makes no difference (and a replay's seek loads only that much back)
        have = None if window_since is None else min(max(0.0, now - window_since), max(WINDOWS.values()))
        out["window_data_seconds"] = have
        out["filling"] = {} if have is None else {k: w for k, w in WINDOWS.items() if k in out and have < w}
        if out.get("status_computed") == "stale" and have is not None and have < WINDOWS["rate_5m"]:
            # "stale" is no event for 5 minutes: with less data than that, the counters cannot say it yet
            out["status_computed"], out["status_disagree"] = None, False
        return out

    def _last_event(self, name: str, total: float | None, now: float) -> tuple[float | None, str | None]:
        """Seconds since the events counter last increased (None until an increase is seen), and why it is unknown."""
        prev = self._events.get(name)
        if total is None:
            return None, "no counter reading"
        last_total, last_inc, since = prev if prev is not None else (total, None, now)
        if total > last_total or (total < last_total and total > 0):  # a drop is a restart: events since it
            last_inc = now
        self._events[name] = (total, last_inc, since)
        if last_inc is None:
            return None, f"none in the {coarse(now - since)} watched"
        return now - last_inc, None

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
        counted_age, unknown_why = self._last_event(svc.name, self._one(vals["events_total"]), now)
        reported_age = health.get("last_event_age_seconds")
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
            # the service's own figure; else the time since the events counter last rose (to a scrape)
            "last_event_age": reported_age if reported_age is not None else counted_age,
            "last_event_age_source": "service" if reported_age is not None else "counters" if counted_age is not None
            else None,
            "last_event_age_why": None if reported_age is not None or counted_age is not None else unknown_why,
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
        since, since_known = None, False
        if percent is not None:
            prev = self._stage_seen.get(svc.name)
            if prev is None or prev[0] != percent:
                # a change seen is when the stage began; the first reading only says it holds from then on
                self._stage_seen[svc.name] = (percent, now, prev is not None)
            _, since, since_known = self._stage_seen[svc.name]
        return {
            "enabled": ops.get("enabled"),
            "percent": percent,
            "stages": list(ROLLOUT_STAGES),
            "stage_since": since,
            "stage_since_known": since_known,  # False: the stage began before the console saw it (at least this long)
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
