"""Simulated Converge (runbook 002): intake, queue, reviews, verification debt, flags, security; `/v1` and `/api`.

The debt score is 100 × (0.30 queue + 0.25 review backlog + 0.15 staleness + 0.15 conflict
+ 0.15 retry pressure), each component 0–1. Intake `pause` rejects every arrival (debt then
drains slowly with the queue), `throttle` accepts half, `auto` follows the runbook's table.
"""

from __future__ import annotations

import zlib
from collections import Counter, deque
from typing import Any

from console.clock import utc_iso

from . import metrics as m
from .base import Model, Window, binomial, poisson, split
from .http import Api, ApiError, Context, Guard, require_bool, require_keys, require_object

MODES = ("open", "throttle", "pause", "auto")
FLAG_MODES = ("shadow", "enforce", "deterministic")
FLAGS = (  # runbook 002, "Flag defaults": (name, enabled, mode)
    ("intent_links", True, None), ("archaeology_enhanced", True, None), ("intent_semantics", True, None),
    ("origin_policy", True, None), ("verification_debt", True, None), ("review_tasks", True, None),
    ("security_adapters", True, None), ("intake_control", True, None), ("semantic_conflicts", True, "shadow"),
    ("plan_coordination", True, None), ("audit_chain", True, None), ("code_ownership", False, None),
    ("pre_eval_harness", True, "shadow"), ("semantic_embeddings_model", True, "deterministic"),
    ("risk_auto_classify", True, "enforce"), ("advisory_locks", False, "shadow"),
    ("llm_review_advisor", False, "shadow"), ("coherence_feedback", True, None), ("notifications", False, "shadow"),
)
TENANTS = ("acme", "globex", "initech")
ARRIVALS_PER_S = 0.02
REVIEW_SHARE = 0.08  # accepted intents that need a human review (~6 an hour)
RESULTS = ("merged", "rejected", "conflict", "retry")
STATUS_CODES = ("200", "201", "401", "404", "429", "500")
STATUS_WEIGHTS = (0.95, 0.02, 0.005, 0.01, 0.01, 0.005)
SCAN_EVERY = 1800


class ConvergeModel(Model):
    name = "converge"

    def __init__(self, clock, timeline, seed) -> None:
        super().__init__(clock, timeline, seed)
        self.mode = "open"
        self.flags = {name: {"name": name, "enabled": on, "mode": mode, "source": "default"}
                      for name, on, mode in FLAGS}
        self.validated, self.queued, self.busy_until, self.lock_since = 0, 0, None, None
        start = self.started  # the review backlog a long-running service has: ~3 pending, ~2 assigned
        self.pending: deque[float] = deque([start - 2400, start - 1300, start - 200])  # creation times
        self.assigned: deque[float] = deque([start - 900, start - 300])  # assignment times
        self.reviews = Counter(completed=0, cancelled=0, escalated=0, sla_breaches=0)
        self.staleness, self.conflict = 0.45, 0.3
        self.intake = Window(3600, 3)  # accepted, throttled, rejected
        self.work = Window(3600, 2)  # processed, retried
        self.processed = Counter(dict.fromkeys(RESULTS, 0))
        self.http = Counter(dict.fromkeys(STATUS_CODES, 0))
        self.rate_limited = Counter(dict.fromkeys(TENANTS, 0))
        self.security = self.scan(self.started - 17 * 60)

    def step(self, t: float, scenario: str, since: float) -> None:
        surge = scenario == "debt-surge"
        load = self.load(t)
        accepted = self.arrive(t, poisson(self.rng, ARRIVALS_PER_S * load * (6 if surge else 1)))
        self.work_queue(t, slow=2.0 if surge else 1.0, retry_share=0.3 if surge else 0.1)
        self.review(t, binomial(self.rng, accepted, 0.4 if surge else REVIEW_SHARE))
        q = self.queue_pressure()
        self.staleness += 0.005 * (0.45 + 0.4 * q - self.staleness) + 0.002 * self.rng.gauss(0, 1)
        self.conflict += 0.005 * ((0.75 if surge else 0.3) - self.conflict) + 0.002 * self.rng.gauss(0, 1)
        self.traffic(load)
        if int(t) % SCAN_EVERY == 0:
            self.security = self.scan(t)

    def arrive(self, t: float, n: int) -> int:
        """Admit `n` arriving intents as the intake mode says; returns how many were accepted."""
        mode = self.effective_mode()
        if mode == "pause":
            self.intake.add(t, 2, n)
            return 0
        throttled = binomial(self.rng, n, 0.5) if mode == "throttle" else 0
        self.intake.add(t, 0, n - throttled)
        self.intake.add(t, 1, throttled)
        self.validated += n - throttled
        return n - throttled

    def work_queue(self, t: float, slow: float, retry_share: float) -> None:
        """Validation (~30 s), then one worker taking queued intents one at a time under the queue lock."""
        moved = binomial(self.rng, self.validated, 1 / 30)
        self.validated -= moved
        self.queued += moved
        if self.busy_until is not None and t >= self.busy_until:
            weights = (0.85 - retry_share, 0.05, 0.05, retry_share)
            result = self.rng.choices(RESULTS, weights)[0]
            self.processed[result] += 1
            self.work.add(t, 0)
            if result == "retry":
                self.work.add(t, 1)
                self.queued += 1
            self.busy_until = self.lock_since = None
        if self.busy_until is None and self.queued:
            self.queued -= 1
            self.busy_until = t + self.rng.uniform(5, 15) * slow
            self.lock_since = t

    def review(self, t: float, new: int) -> None:
        self.pending.extend([t] * new)
        for _ in range(binomial(self.rng, len(self.pending), 1 / 1800)):
            self.pending.popleft()
            self.assigned.append(t)
        while self.pending and t - self.pending[0] > 4 * 3600:  # runbook: pending > 4 h → auto-assign
            self.pending.popleft()
            self.assigned.append(t)
        for _ in range(binomial(self.rng, len(self.pending), 1 / 40000)):  # withdrawn by the author
            self.pending.pop()
            self.reviews["cancelled"] += 1
        done = binomial(self.rng, len(self.assigned), 1 / 1200)
        for _ in range(done):
            self.assigned.popleft()
        self.reviews["completed"] += done
        while self.assigned and t - self.assigned[0] > 8 * 3600:  # assigned > 8 h → escalate, SLA breach
            self.assigned.popleft()
            self.reviews["escalated"] += 1
            self.reviews["sla_breaches"] += 1

    def traffic(self, load: float) -> None:
        for code, n in zip(STATUS_CODES, split(self.rng, poisson(self.rng, 4 * load), STATUS_WEIGHTS)):
            self.http[code] += n
            if code == "429":
                for _ in range(n):
                    self.rate_limited[self.rng.choice(TENANTS)] += 1

    def scan(self, t: float) -> dict:
        rng = self.rng
        return {"critical": 0, "high": int(rng.random() < 0.3), "medium": rng.randint(1, 4),
                "low": 4 + poisson(rng, 3), "last_scan_at": utc_iso(t)}

    def active(self) -> int:
        return self.validated + self.queued + (self.busy_until is not None)

    def queue_pressure(self) -> float:
        return min(1.0, self.active() / 25)

    def debt(self, now: float, tenant: str | None = None) -> dict:
        processed, retried = self.work.sums(self.t)
        parts = {
            "staleness_score": min(1.0, max(0.0, self.staleness)),
            "queue_pressure_score": self.queue_pressure(),
            "review_backlog_score": min(1.0, len(self.pending) / 30),
            "conflict_pressure_score": min(1.0, max(0.0, self.conflict)),
            "retry_pressure_score": min(1.0, retried / max(5, processed)),
        }
        if tenant is not None:  # a tenant sees its own slice: a stable per-tenant scale
            scale = 0.6 + (zlib.crc32(tenant.encode()) % 60) / 100
            parts = {k: min(1.0, v * scale) for k, v in parts.items()}
        weights = (0.15, 0.30, 0.25, 0.15, 0.15)
        score = round(100 * sum(w * v for w, v in zip(weights, parts.values())), 1)
        status = "green" if score < 30 else "yellow" if score < 70 else "red"
        return {"debt_score": score, **{k: round(v, 3) for k, v in parts.items()}, "status": status,
                "tenant_id": tenant, "computed_at": utc_iso(now)}

    def effective_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        score = self.debt(self.t)["debt_score"]
        if score > 70:
            return "pause"
        return "throttle" if score >= 30 or len(self.pending) > 10 else "open"

    def intake_status(self) -> dict:
        accepted, throttled, rejected = self.intake.sums(self.t)
        return {"mode": self.mode, "effective_mode": self.effective_mode(),
                "stats": {"accepted_1h": accepted, "throttled_1h": throttled, "rejected_1h": rejected}}

    def review_summary(self, now: float) -> dict:
        oldest = round(now - self.pending[0], 1) if self.pending else None
        return {"pending": len(self.pending), "assigned": len(self.assigned), **self.reviews,
                "oldest_pending_seconds": oldest}

    def queue_state(self, now: float) -> dict:
        locked = self.lock_since is not None
        return {"validated": self.validated, "queued": self.queued, "processing": int(locked), "locked": locked,
                "lock_age_seconds": round(now - self.lock_since, 1) if locked else None}

    def families(self):
        yield m.gauge("converge_queue_depth", "Intents validated or queued", (), {(): self.validated + self.queued})
        yield m.counter("converge_intents_processed_total", "Intents processed by the worker", ("result",),
                        m.keyed(self.processed))
        yield m.counter("converge_rate_limit_hits_total", "Requests refused by the per-tenant rate limit",
                        ("tenant",), m.keyed(self.rate_limited))
        yield m.counter("converge_http_requests_total", "HTTP requests served", ("status_code",),
                        m.keyed(self.http))
        yield m.gauge("converge_verification_debt_score", "Verification debt score (0-100)", (),
                      {(): self.debt(self.t)["debt_score"]})


def build(ctx: Context) -> tuple[ConvergeModel, Api]:
    model = ConvergeModel(ctx.clock, ctx.timeline, ctx.seed)
    creds, now = ctx.credentials, ctx.clock.now
    guard = Guard("header", {creds.converge_key: "operator", creds.converge_readonly_key: "readonly"})
    api = Api("converge", ctx, model, guard)
    api.route("/health/ready", lambda request, body: {"status": "ready"}, open=True)
    for prefix in ("/v1", "/api"):
        api.route(f"{prefix}/verification/debt", lambda r, b: model.debt(now(), tenant_param(r)))
        api.route(f"{prefix}/intake/status", lambda r, b: model.intake_status())
        api.route(f"{prefix}/intake/mode", lambda r, b: set_mode(model, b), "POST", role="operator", record="mutation")
        api.route(f"{prefix}/flags", lambda r, b: {"flags": list(model.flags.values())})
        api.route(f"{prefix}/flags/{{name}}", lambda r, b: set_flag(model, r.path_params["name"], b), "POST",
                  role="operator", record="mutation")
        api.route(f"{prefix}/reviews/summary", lambda r, b: model.review_summary(now()))
        api.route(f"{prefix}/security/summary", lambda r, b: dict(model.security))
        api.route(f"{prefix}/queue/state", lambda r, b: model.queue_state(now()))
    api.metrics(model.families, open=True)
    return model, api


def tenant_param(request) -> str | None:
    tenant = request.query_params.get("tenant_id")
    if tenant is not None and not tenant.strip():
        raise ApiError(400, "tenant_id must not be empty")
    return tenant


def set_mode(model: ConvergeModel, body: Any) -> dict:
    body = require_object(body)
    require_keys(body, {"mode"})
    if body.get("mode") not in MODES:
        raise ApiError(400, f"mode must be one of {', '.join(MODES)}")
    model.mode = body["mode"]
    return model.intake_status()


def set_flag(model: ConvergeModel, name: str, body: Any) -> dict:
    if name not in model.flags:
        raise ApiError(404, f"unknown flag {name!r}")
    body = require_object(body)
    require_keys(body, {"enabled", "mode"})
    enabled = require_bool(body, "enabled")
    if "mode" in body and body["mode"] not in FLAG_MODES:
        raise ApiError(400, f"mode must be one of {', '.join(FLAG_MODES)}")
    flag = model.flags[name]
    flag.update(enabled=enabled, source="runtime")
    if "mode" in body:
        flag["mode"] = body["mode"]
    return dict(flag)
