"""Simulated path tracker (runbook 003): steps under a rollout percentage, alert deliveries, ops and analytics.

The outcomes of `path_tracker_steps_total` are exclusive: `completed`, `fallback` (completed
with fallback content after the LLM failed) and `generate_error` (the step failed). Over the
service's own trailing windows:

    fallbackRate1h       = fallback / (completed + fallback + generate_error)        over 1 h
    generateErrorRate15m = generate_error / (completed + fallback + generate_error)  over 15 min
    stepCompletions1h    = completed + fallback                                       over 1 h
    signals.*Triggered   = rate > 20 % (fallback), rate > 5 % (generate errors)

Step volume scales with the rollout percentage; at 0 % only the allowlist still runs.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from console.clock import utc_iso

from . import metrics as m
from .base import DAY, Model, Window, poisson
from .http import Api, ApiError, Context, Guard, query_int, require_bool, require_keys, require_object

OUTCOMES = ("completed", "fallback", "generate_error")
ALLOWLIST_PER_S = 0.03
PER_PERCENT_PER_S = 0.027  # 35 % → ~1 step/s
FALLBACK = {"normal": 0.05, "fallback-spike": 0.95}
GENERATE_ERROR = {"normal": 0.01, "generate-errors": 0.25}
FALLBACK_THRESHOLD, GENERATE_ERROR_THRESHOLD = 0.20, 0.05
ALERT_COOLDOWN = 300.0
BACKGROUND_ALERTS_PER_S = 2 / 3600
WEBHOOK_FAILURE = 0.04  # a failed delivery every ~12 h in normal operation
WEBHOOK_ERRORS = ("webhook timeout after 10s", "webhook answered HTTP 502", "connection refused by webhook host")
MAX_ALERTS = 5000
PREFIX = "/api/admin/path-tracker"


class PathTrackerModel(Model):
    name = "path_tracker"

    def __init__(self, clock, timeline, seed) -> None:
        super().__init__(clock, timeline, seed)
        self.seed = seed
        self.enabled, self.percent = True, 35
        self.allowlist, self.denylist = ["qa-alice", "qa-bob"], ["u-1093"]
        self.steps = Counter(dict.fromkeys(OUTCOMES, 0))
        self.hour, self.quarter = Window(3600, 3), Window(900, 3)
        self.days: dict[str, list[int]] = {}  # live counts per UTC date: started, completed, fallbacks, errors
        self.alerts: list[dict] = []  # oldest first
        self.pending: list[tuple[float, dict]] = []  # (deliver at, alert)
        self.deliveries = Counter(sent=0, failed=0)
        self.last_alert = {"fallback": -1e18, "generate_error": -1e18}
        self.alert_seq = 0

    def step(self, t: float, scenario: str, since: float) -> None:
        rng = self.rng
        rate = (ALLOWLIST_PER_S + PER_PERCENT_PER_S * self.percent) * self.load(t) if self.enabled else 0.0
        pf = FALLBACK.get(scenario, FALLBACK["normal"])
        pe = GENERATE_ERROR.get(scenario, GENERATE_ERROR["normal"])
        counts = (poisson(rng, rate * (1 - pf - pe)), poisson(rng, rate * pf), poisson(rng, rate * pe))
        for i, (outcome, n) in enumerate(zip(OUTCOMES, counts)):
            self.steps[outcome] += n
            self.hour.add(t, i, n)
            self.quarter.add(t, i, n)
        day = self.days.setdefault(_date(t), [0, 0, 0, 0])
        for i, n in enumerate((sum(counts), counts[0] + counts[1], counts[1], counts[2])):
            day[i] += n
        self.deliver(t)
        fallback, errors = self.rates(t)
        for kind, triggered in (("fallback", fallback > FALLBACK_THRESHOLD),
                                ("generate_error", errors > GENERATE_ERROR_THRESHOLD)):
            if triggered and t - self.last_alert[kind] >= ALERT_COOLDOWN:
                self.raise_alert(t, kind)
        if rng.random() < BACKGROUND_ALERTS_PER_S:  # single notable failures alert too
            self.raise_alert(t, rng.choice(("fallback", "generate_error")))

    def rates(self, t: float) -> tuple[float, float]:
        hour, quarter = self.hour.sums(t), self.quarter.sums(t)
        return (hour[1] / sum(hour) if sum(hour) else 0.0,
                quarter[2] / sum(quarter) if sum(quarter) else 0.0)

    def raise_alert(self, t: float, kind: str) -> None:
        self.last_alert[kind] = t
        self.alert_seq += 1
        alert = {"id": f"pta_{self.alert_seq:06d}", "createdAt": utc_iso(t), "ts": t, "kind": kind,
                 "status": "pending", "errorText": None, "attempts": 0}
        self.alerts.append(alert)
        self.pending.append((t + self.rng.randint(2, 5), alert))
        if len(self.alerts) > MAX_ALERTS:
            del self.alerts[: len(self.alerts) - MAX_ALERTS]

    def deliver(self, t: float) -> None:
        due = [a for when, a in self.pending if when <= t]
        self.pending = [(when, a) for when, a in self.pending if when > t]
        for alert in due:
            if self.rng.random() < WEBHOOK_FAILURE:
                alert.update(status="failed", attempts=3, errorText=self.rng.choice(WEBHOOK_ERRORS))
            else:
                alert.update(status="sent", attempts=1)
            self.deliveries[alert["status"]] += 1

    def retry_failed(self, since_minutes: int, now: float) -> int:
        retried = 0
        for alert in reversed(self.alerts):
            if alert["ts"] < now - since_minutes * 60:
                break
            if alert["status"] == "failed":
                alert.update(status="sent", attempts=alert["attempts"] + 1, errorText=None)
                self.deliveries["sent"] += 1
                retried += 1
        return retried

    def ops(self, now: float) -> dict:
        fallback, errors = self.rates(self.t)
        hour = self.hour.sums(self.t)
        failed = 0
        for alert in reversed(self.alerts):
            if alert["ts"] <= now - 3600:
                break
            failed += alert["status"] == "failed"
        return {"enabled": self.enabled, "rollout": self.rollout(), "recentFailedAlerts1h": failed,
                "fallbackRate1h": round(fallback, 4), "generateErrorRate15m": round(errors, 4),
                "signals": {"fallbackTriggered": fallback > FALLBACK_THRESHOLD,
                            "generateErrorTriggered": errors > GENERATE_ERROR_THRESHOLD},
                "stepCompletions1h": hour[0] + hour[1]}

    def rollout(self) -> dict:
        return {"percent": self.percent, "allowlist": list(self.allowlist), "denylist": list(self.denylist)}

    def analytics(self, days: int, now: float) -> dict:
        today = now - now % DAY
        out = []
        for back in range(days - 1, -1, -1):
            start = today - back * DAY
            date = _date(start)
            past = self.history(start)
            live = self.days.get(date, [0, 0, 0, 0])
            started, completed, fallbacks, errors = (a + b for a, b in zip(past, live))
            out.append({"date": date, "steps_started": started, "steps_completed": completed,
                        "fallbacks": fallbacks, "generate_errors": errors})
        return {"days": out}

    def history(self, day_start: float) -> list[int]:
        """Synthetic counts for the part of a day before the simulator started (earlier rollout stages)."""
        share = min(1.0, max(0.0, (self.started - day_start) / DAY))
        if share == 0:
            return [0, 0, 0, 0]
        days_ago = (self.started - day_start) / DAY
        percent = 5 if days_ago > 10 else 15 if days_ago > 5 else 35
        rng = random.Random(f"{self.seed}:path_tracker:{_date(day_start)}")
        started = round((ALLOWLIST_PER_S + PER_PERCENT_PER_S * percent) * DAY * share * rng.gauss(1, 0.05))
        fallbacks = round(started * FALLBACK["normal"] * rng.uniform(0.8, 1.2))
        errors = round(started * GENERATE_ERROR["normal"] * rng.uniform(0.7, 1.3))
        return [started, started - errors, fallbacks, errors]

    def page(self, page: int, size: int, status: str | None) -> dict:
        items = [a for a in reversed(self.alerts) if status is None or a["status"] == status]
        chosen = items[(page - 1) * size: page * size]
        return {"page": page, "pageSize": size, "total": len(items),
                "items": [{k: v for k, v in a.items() if k != "ts"} for a in chosen]}

    def families(self):
        yield m.counter("path_tracker_steps_total", "Path steps by outcome", ("outcome",),
                        m.keyed(self.steps))
        yield m.counter("path_tracker_alert_deliveries_total", "Alert webhook deliveries", ("status",),
                        m.keyed(self.deliveries))
        yield m.gauge("path_tracker_rollout_percent", "Rollout percentage", (), {(): self.percent})


def _date(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d")


def build(ctx: Context) -> tuple[PathTrackerModel, Api]:
    model = PathTrackerModel(ctx.clock, ctx.timeline, ctx.seed)
    now = ctx.clock.now
    api = Api("path_tracker", ctx, model, Guard("bearer", {ctx.credentials.path_tracker_token: "admin"}))
    api.route(f"{PREFIX}/ops", lambda r, b: model.ops(now()))
    api.route(f"{PREFIX}/analytics", lambda r, b: model.analytics(query_int(r, "days", 14, 1, 90), now()))
    api.route(f"{PREFIX}/alerts", lambda r, b: list_alerts(model, r))
    api.route(f"{PREFIX}/alerts/retry-failed", lambda r, b: retry_failed(model, b, now()), "POST", record="mutation")
    api.route(f"{PREFIX}/rollout", lambda r, b: set_rollout(model, b), "PUT", record="mutation")
    api.metrics(model.families)
    return model, api


def list_alerts(model: PathTrackerModel, request) -> dict:
    status = request.query_params.get("status")
    if status not in (None, "sent", "failed", "pending"):
        raise ApiError(400, "status must be sent, failed or pending")
    return model.page(query_int(request, "page", 1, 1, 10**6), query_int(request, "pageSize", 20, 1, 200), status)


def retry_failed(model: PathTrackerModel, body: Any, now: float) -> dict:
    body = require_object({} if body is None else body)
    require_keys(body, {"sinceMinutes"})
    since = body.get("sinceMinutes", 60)
    if isinstance(since, bool) or not isinstance(since, int) or not 1 <= since <= 7 * 24 * 60:
        raise ApiError(400, "sinceMinutes must be an integer between 1 and 10080")
    return {"retried": model.retry_failed(since, now)}


def set_rollout(model: PathTrackerModel, body: Any) -> dict:
    body = require_object(body)
    require_keys(body, {"percent", "allowlist", "denylist", "enabled"})
    percent = body.get("percent")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise ApiError(400, "percent must be an integer between 0 and 100")
    lists = {}
    for key in ("allowlist", "denylist"):
        value = body.get(key, getattr(model, key))
        if not isinstance(value, list) or not all(isinstance(u, str) and u for u in value):
            raise ApiError(400, f"{key} must be a list of user ids")
        lists[key] = value
    if "enabled" in body:
        model.enabled = require_bool(body, "enabled")
    model.percent, model.allowlist, model.denylist = percent, lists["allowlist"], lists["denylist"]
    return model.rollout()
