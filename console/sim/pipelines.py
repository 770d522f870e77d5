"""Simulated Storytailor automatic pipelines (runbook 001): the 8 pipelines, kill switches (http provider), metrics.

Scheduled pipelines run in bursts on UTC-aligned cadences (a digest shard every 10 min, …);
crisis alerts arrive one by one. A kill switch flip reaches the curator only after its cache
expires (modelled as 120 s, within the runbook's 5 minutes): from then on that pipeline's
executions are vetoed with KILL_SWITCH_ACTIVE and send nothing.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from console.clock import utc_iso

from . import metrics as m
from .base import Model, poisson
from .http import Api, ApiError, Context, Guard, require_bool, require_keys, require_object

CACHE_DELAY = 120.0


@dataclass(frozen=True)
class Cadence:
    period: int  # seconds between runs (UTC-aligned, with a per-pipeline offset)
    burst: float  # executions per run
    spread: int  # seconds a run takes
    veto: float  # share vetoed by the curator (LOW_CONFIDENCE, caps, preferences)
    email: bool  # whether a sent execution sends an email


PIPELINES = {
    "daily-digest": Cadence(600, 300, 120, 0.20, True),
    "weekly-insights": Cadence(1800, 60, 180, 0.50, True),
    "story-scoring": Cadence(300, 40, 60, 0.05, False),
    "referral-rewards": Cadence(900, 10, 30, 0.10, True),
    "expire-credits": Cadence(3600, 30, 60, 0.00, False),
    "org-health-report": Cadence(3600, 5, 30, 0.20, True),
    "crisis-alert": Cadence(0, 0, 0, 0.30, True),  # event-driven, see CRISIS_PER_S
    "therapeutic-checkin": Cadence(1800, 40, 120, 0.30, True),
}
OUTCOMES = ("sent", "vetoed", "failed")
VETO_REASONS = ("LOW_CONFIDENCE", "SLA_MISSED", "KILL_SWITCH_ACTIVE", "FREQUENCY_CAP", "USER_PREFERENCE")
CRISIS_PER_S = {"normal": 2 / 3600, "crisis-sla": 1.5 / 60}
SLA_MISS = {"normal": 0.01, "crisis-sla": 0.7}  # share of crisis alerts detected too late (> 5 min)
FAILURE = 0.005
UNSUBSCRIBE = {"normal": 0.0003, "unsubscribe-spike": 0.06}  # per daily-digest email sent
UNSUBSCRIBE_OTHERS = 0.0001  # per email of the other pipelines


@dataclass
class Switch:
    enabled: bool
    updated_at: float
    flips: list[tuple[float, bool]] = field(default_factory=list)  # (effective from, value)

    def effective(self, t: float) -> bool:
        """The value the curator sees at `t`: the last flip whose cache delay has passed."""
        i = bisect.bisect_right(self.flips, t, key=lambda flip: flip[0]) - 1
        return self.flips[i][1] if i >= 0 else True


class PipelinesModel(Model):
    name = "pipelines"

    def __init__(self, clock, timeline, seed) -> None:
        super().__init__(clock, timeline, seed)
        created = self.started - 12 * 86400
        self.switches = {p: Switch(True, created) for p in PIPELINES}
        self.backlog = Counter()
        self.executions = Counter({(p, o): 0 for p in PIPELINES for o in OUTCOMES})
        self.vetoes = Counter({(p, r): 0 for p in PIPELINES for r in VETO_REASONS})
        zero = {p: 0 for p in PIPELINES}
        self.sent, self.failures, self.unsubscribes, self.sla = (Counter(zero) for _ in range(4))
        self.lambda_errors = 0
        self.lambda_counts = [0] * (len(m.DURATION_BUCKETS) + 1)
        self.lambda_sum = 0.0

    def step(self, t: float, scenario: str, since: float) -> None:
        rng, now = self.rng, int(t)
        load = self.load(t)
        for i, (p, c) in enumerate(PIPELINES.items()):
            if p == "crisis-alert":
                k = poisson(rng, CRISIS_PER_S.get(scenario, CRISIS_PER_S["normal"]))
            else:
                if now % c.period == (i * 97) % c.period:
                    self.backlog[p] += poisson(rng, c.burst * load)
                k = min(self.backlog[p], math.ceil(c.burst / c.spread))
                self.backlog[p] -= k
            if k:
                self.invoke(t, p, c, k, scenario)
        if rng.random() < 1 / 3600:  # normal: about one Lambda error an hour
            self.lambda_errors += 1

    def invoke(self, t: float, p: str, c: Cadence, k: int, scenario: str) -> None:
        """One curator Lambda invocation handling `k` executions of pipeline `p`."""
        rng = self.rng
        duration = min(299.0, rng.lognormvariate(math.log(1.2), 0.6))
        self.lambda_counts[bisect.bisect_left(m.DURATION_BUCKETS, duration)] += 1
        self.lambda_sum += duration
        killed = not self.switches[p].effective(t)
        # the SLA (detected within 5 min) is crisis detection's; the scheduled pipelines have none
        sla_miss = SLA_MISS.get(scenario, SLA_MISS["normal"]) if p == "crisis-alert" else 0.0
        unsubscribe = UNSUBSCRIBE.get(scenario, UNSUBSCRIBE["normal"]) if p == "daily-digest" else UNSUBSCRIBE_OTHERS
        for _ in range(k):
            r = rng.random()
            if killed:
                self.veto(p, "KILL_SWITCH_ACTIVE")
            elif r < sla_miss:
                self.veto(p, "SLA_MISSED")
                self.sla[p] += 1
            elif r < sla_miss + c.veto:
                self.veto(p, rng.choices(("LOW_CONFIDENCE", "FREQUENCY_CAP", "USER_PREFERENCE"), (7, 2, 1))[0])
            elif r < sla_miss + c.veto + FAILURE:
                self.executions[(p, "failed")] += 1
                self.failures[p] += c.email
            else:
                self.executions[(p, "sent")] += 1
                if c.email:
                    self.sent[p] += 1
                    self.unsubscribes[p] += rng.random() < unsubscribe

    def veto(self, p: str, reason: str) -> None:
        self.executions[(p, "vetoed")] += 1
        self.vetoes[(p, reason)] += 1

    def flip(self, p: str, enabled: bool, now: float) -> dict:
        sw = self.switches[p]
        sw.enabled, sw.updated_at = enabled, now
        sw.flips.append((now + CACHE_DELAY, enabled))
        return self.switch_view(p)

    def switch_view(self, p: str) -> dict:
        sw = self.switches[p]
        return {"pipeline": p, "enabled": sw.enabled, "updated_at": utc_iso(sw.updated_at)}

    def families(self):
        yield m.counter("storytailor_pipeline_executions_total", "Pipeline executions by outcome",
                        ("pipeline", "outcome"), self.executions)
        yield m.counter("storytailor_pipeline_vetoes_total", "Executions vetoed by the curator",
                        ("pipeline", "reason"), self.vetoes)
        yield m.counter("storytailor_emails_sent_total", "Emails sent", ("pipeline",), m.keyed(self.sent))
        yield m.counter("storytailor_email_failures_total", "Email deliveries that failed", ("pipeline",),
                        m.keyed(self.failures))
        yield m.counter("storytailor_unsubscribes_total", "Unsubscribes attributed to a pipeline's email",
                        ("pipeline",), m.keyed(self.unsubscribes))
        yield m.counter("storytailor_sla_violations_total", "Executions that missed their SLA", ("pipeline",),
                        m.keyed(self.sla))
        yield m.counter("storytailor_lambda_errors_total", "Curator Lambda errors", (), {(): self.lambda_errors})
        yield m.histogram("storytailor_lambda_duration_seconds", "Curator Lambda invocation duration",
                          m.DURATION_BUCKETS, self.lambda_counts, self.lambda_sum)


def build(ctx: Context) -> tuple[PipelinesModel, Api]:
    model = PipelinesModel(ctx.clock, ctx.timeline, ctx.seed)
    api = Api("pipelines", ctx, model, Guard("header", {ctx.credentials.storytailor_key: "operator"}))
    api.route("/api/pipelines/switches",
              lambda request, body: {"switches": [model.switch_view(p) for p in PIPELINES]})
    api.route("/api/pipelines/switches/{pipeline}",
              lambda request, body: put_switch(model, request.path_params["pipeline"], body, ctx.clock.now()),
              "PUT", record="mutation")
    api.metrics(model.families)
    return model, api


def put_switch(model: PipelinesModel, pipeline: str, body: Any, now: float) -> dict:
    if pipeline not in PIPELINES:
        raise ApiError(404, f"unknown pipeline {pipeline!r}")
    body = require_object(body)
    require_keys(body, {"enabled"})
    return model.flip(pipeline, require_bool(body, "enabled"), now)
