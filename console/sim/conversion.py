"""Simulated Pulse conversion pipeline (runbook 000): events, hourly aggregation window, health, kill switch.

Health as the runbook defines it; `events_by_type` counts each known type over the trailing
5 minutes and `coverage` is the share of the 8 known types seen there, so the console can recompute
both from `increase(pulse_conversion_events_total[5m])`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from console.clock import utc_iso

from . import metrics as m
from .base import Model, Window, poisson
from .http import Api, ApiError, Context, Guard, require_bool, require_keys, require_object

FRONTEND_TYPES = ("paywall_viewed", "upgrade_clicked")
DEFERRED_TYPES = ("trial_started", "license_activated", "license_activation_failed",
                  "checkout_started", "limit_warning_shown", "limit_blocked")
KNOWN_TYPES = FRONTEND_TYPES + DEFERRED_TYPES
SURFACES = {
    "history_chart": ("long_term_metrics", "extended_history", "export_csv"),
    "ai_insights": ("ai_patrol", "ai_autofix", "ai_alerts", "ai_insights"),
    "settings_gates": ("sso", "rbac", "audit_log", "reporting", "webhooks", "multi_tenant"),
}
SURFACE_WEIGHTS = (0.45, 0.35, 0.20)
EVENTS_PER_S = 3.0
UPGRADE_SHARE = 1 / 11  # paywall_viewed : upgrade_clicked ≈ 10 : 1
OVERFLOW_PER_S = 5.0  # cardinality-overflow: unbounded keys per second
MAX_KEYS_PER_TYPE = 1000  # runbook: bounded cardinality per tenant per event type
STALE_AFTER = 300.0
WINDOW = 3600  # the aggregator flushes hourly (on the UTC hour)
INVALID_REASONS = ("cardinality_exceeded", "invalid_type", "missing_field")
SKIPPED_REASONS = ("collection_disabled", "surface_disabled")


class ConversionModel(Model):
    name = "conversion"

    def __init__(self, clock, timeline, seed) -> None:
        super().__init__(clock, timeline, seed)
        self.enabled = True
        self.disabled_surfaces: list[str] = []
        # (type, surface) → total; the frontend series exist from the start, so a type that never
        # arrives shows as a flat 0 (increase() == 0), not as a missing series
        self.events = Counter({(kind, surface): 0 for kind in FRONTEND_TYPES for surface in SURFACES})
        self.invalid = Counter(dict.fromkeys(INVALID_REASONS, 0))
        self.skipped = Counter(dict.fromkeys(SKIPPED_REASONS, 0))
        self.window_start = self.t - self.t % WINDOW
        self.buckets: Counter[tuple[str, str]] = Counter()  # (key, type) → count in the window
        self.keys_per_type: Counter[str] = Counter()
        self.idempotency: set[str] = set()
        self.recent = Window(STALE_AFTER, len(KNOWN_TYPES))
        self.last_event: float | None = None
        self.resource_seq = 0

    def step(self, t: float, scenario: str, since: float) -> None:
        if t >= self.window_start + WINDOW:
            self.window_start = t - t % WINDOW
            self.buckets.clear()
            self.keys_per_type.clear()
            self.idempotency.clear()
        rng = self.rng
        n = poisson(rng, EVENTS_PER_S * self.load(t))
        if scenario == "conversion-stall":
            return
        for _ in range(n):
            kind = "upgrade_clicked" if rng.random() < UPGRADE_SHARE else "paywall_viewed"
            if kind == "upgrade_clicked" and scenario == "emission-gap":
                continue
            surface = rng.choices(tuple(SURFACES), SURFACE_WEIGHTS)[0]
            self.record(t, kind, surface, rng.choice(SURFACES[surface]))
        if scenario == "cardinality-overflow":
            for _ in range(poisson(rng, OVERFLOW_PER_S)):
                # a frontend bug puts a resource id where a capability constant belongs
                self.resource_seq += 1
                kind = "upgrade_clicked" if rng.random() < 0.1 else "paywall_viewed"
                self.record(t, kind, "history_chart", f"vm-{self.resource_seq:06d}")

    def record(self, t: float, kind: str, surface: str, capability: str) -> None:
        if not self.enabled:
            self.skipped["collection_disabled"] += 1
            return
        if surface in self.disabled_surfaces:
            self.skipped["surface_disabled"] += 1
            return
        key = f"{surface}:{capability}"
        if (key, kind) not in self.buckets:
            if self.keys_per_type[kind] >= MAX_KEYS_PER_TYPE:
                self.invalid["cardinality_exceeded"] += 1  # silently dropped
                return
            self.keys_per_type[kind] += 1
        self.buckets[(key, kind)] += 1
        self.events[(kind, surface)] += 1
        self.recent.add(t, KNOWN_TYPES.index(kind))
        self.last_event = t if self.last_event is None else max(self.last_event, t)

    def health(self, now: float) -> dict:
        age = None if self.last_event is None else round(max(0.0, now - self.last_event), 1)
        counts = self.recent.sums(self.t)
        by_type = dict(zip(KNOWN_TYPES, counts))
        coverage = round(sum(1 for c in counts if c > 0) / len(KNOWN_TYPES), 3)
        if (age is None and now - self.started > STALE_AFTER) or (age is not None and age > STALE_AFTER):
            status = "stale"
        else:
            status = "degraded" if coverage < 0.5 else "healthy"
        return {"status": status, "last_event_age_seconds": age, "started_at": utc_iso(self.started),
                "events_by_type": by_type, "known_types": list(KNOWN_TYPES), "coverage": coverage}

    def stats(self) -> dict:
        buckets = [{"key": key, "type": kind, "count": n}
                   for (key, kind), n in sorted(self.buckets.items(), key=lambda kv: (-kv[1], kv[0]))]
        return {"window_start": utc_iso(self.window_start), "window_seconds": WINDOW,
                "bucket_count": len(buckets), "buckets": buckets, "total": sum(self.buckets.values())}

    def config(self) -> dict:
        return {"enabled": self.enabled, "disabled_surfaces": list(self.disabled_surfaces)}

    def families(self):
        yield m.counter("pulse_conversion_events_total", "Successfully recorded conversion events",
                        ("type", "surface"), self.events)
        yield m.counter("pulse_conversion_events_invalid_total", "Events rejected by validation",
                        ("reason",), m.keyed(self.invalid))
        yield m.counter("pulse_conversion_events_skipped_total", "Events skipped due to disabled collection",
                        ("reason",), m.keyed(self.skipped))


def build(ctx: Context) -> tuple[ConversionModel, Api]:
    model = ConversionModel(ctx.clock, ctx.timeline, ctx.seed)
    creds = ctx.credentials
    guard = Guard("basic", {f"{creds.pulse_user}:{creds.pulse_password}": "admin",
                            f"{creds.pulse_viewer_user}:{creds.pulse_viewer_password}": "viewer"}, realm="pulse")
    api = Api("conversion", ctx, model, guard)
    api.route("/api/health", lambda request, body: {"status": "ok"})
    api.route("/api/conversion/health", lambda request, body: model.health(ctx.clock.now()))
    api.route("/api/conversion/stats", lambda request, body: model.stats())
    api.route("/api/conversion/config", lambda request, body: model.config())
    api.route("/api/conversion/config", lambda request, body: put_config(model, body),
              "PUT", role="admin", record="mutation")
    api.route("/api/conversion/events", lambda request, body: post_event(model, body, ctx.clock.now()),
              "POST", record="test_event")
    api.metrics(model.families)
    return model, api


def put_config(model: ConversionModel, body: Any) -> dict:
    body = require_object(body)
    require_keys(body, {"enabled", "disabled_surfaces"})
    if "enabled" not in body and "disabled_surfaces" not in body:
        raise ApiError(400, "expected 'enabled' and/or 'disabled_surfaces'")
    enabled = require_bool(body, "enabled") if "enabled" in body else model.enabled
    surfaces = body.get("disabled_surfaces", model.disabled_surfaces)
    if not isinstance(surfaces, list) or not all(isinstance(s, str) and s for s in surfaces):
        raise ApiError(400, "'disabled_surfaces' must be a list of surface names")
    model.enabled, model.disabled_surfaces = enabled, sorted(set(surfaces))
    return model.config()


def post_event(model: ConversionModel, body: Any, now: float) -> tuple[int, dict]:
    body = require_object(body)
    for key in ("type", "capability", "surface", "idempotency_key"):
        if not isinstance(body.get(key), str) or not body[key]:
            model.invalid["missing_field"] += 1
            raise ApiError(400, f"{key!r} is required (a non-empty string)")
    stamp = body.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        model.invalid["missing_field"] += 1
        raise ApiError(400, "'timestamp' is required (milliseconds since the epoch)")
    if body["type"] not in KNOWN_TYPES:
        model.invalid["invalid_type"] += 1
        raise ApiError(400, f"unknown event type {body['type']!r}")
    if body["idempotency_key"] not in model.idempotency:  # a duplicate is accepted, not counted
        model.idempotency.add(body["idempotency_key"])
        model.record(now, body["type"], body["surface"], body["capability"])
    return 202, {"accepted": True}
