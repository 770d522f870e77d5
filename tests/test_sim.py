"""The embedded simulator over real loopback HTTP: shapes, auth, scenarios, mutations, metrics, determinism."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from console.clock import VirtualClock, parse_iso
from console.sim import SCENARIOS, Credentials, Fleet, Mutation
from console.sim import base as sim_base
from console.sim import path_tracker

START = 1_790_000_000.0  # 2026-09-21T14:13:20Z
PT = "/api/admin/path-tracker"


@dataclass
class Sim:
    fleet: Fleet
    clock: VirtualClock
    creds: Credentials
    urls: dict
    http: httpx.AsyncClient

    def auth(self, service: str, who: str = "admin") -> dict:
        c = self.creds
        if service == "conversion":
            return {"auth": (c.pulse_viewer_user, c.pulse_viewer_password) if who == "viewer"
                    else (c.pulse_user, c.pulse_password)}
        if service == "path_tracker":
            return {"headers": {"authorization": f"Bearer {c.path_tracker_token}"}}
        key = {"pipelines": c.storytailor_key, "data_pipeline": c.data_pipeline_key,
               "converge": c.converge_readonly_key if who == "readonly" else c.converge_key}[service]
        return {"headers": {"x-api-key": key}}

    async def call(self, service: str, method: str, path: str, who: str = "admin", **kw) -> httpx.Response:
        return await self.http.request(method, self.urls[service] + path, **self.auth(service, who), **kw)

    async def json(self, service: str, path: str) -> dict:
        r = await self.call(service, "GET", path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    async def metrics(self, service: str) -> dict:
        """{(name, ((label, value), ...)): value} of one scrape."""
        r = await self.call(service, "GET", "/metrics")
        assert r.status_code == 200, r.text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(r.text) for s in fam.samples}

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)


def total(scrape: dict, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, lab), v in scrape.items() if n == name and labels.items() <= dict(lab).items())


@pytest.fixture
async def sim():
    clock = VirtualClock(START)
    creds = Credentials.generate(seed=1)
    fleet = Fleet(clock, seed=7, credentials=creds)
    urls = await fleet.start()
    async with httpx.AsyncClient(timeout=10) as http:
        yield Sim(fleet, clock, creds, urls, http)
    await fleet.stop()


# ---------------------------------------------------------------- start, credentials


async def test_five_services_start_quickly_on_loopback_ports():
    fleet = Fleet(VirtualClock(START), credentials=Credentials.generate(seed=3))
    began = time.perf_counter()
    urls = await fleet.start()
    try:
        assert time.perf_counter() - began < 1.0
        assert list(urls) == ["conversion", "pipelines", "converge", "path_tracker", "data_pipeline"]
        assert len({u.rsplit(":", 1)[1] for u in urls.values()}) == 5
        async with httpx.AsyncClient() as http:
            r = await http.get(urls["converge"] + "/health/ready")
        assert r.json() == {"status": "ready"}
    finally:
        await fleet.stop()
    assert fleet.urls == {}
    with pytest.raises(OSError):
        await fleet.start(host="256.0.0.1")
    assert len(await fleet.start()) == 5  # nothing left half-started
    await fleet.stop()


def test_credentials_env_names_and_secrecy():
    creds = Credentials.generate(seed=5)
    env = creds.env()
    assert sorted(env) == sorted([
        "OPSCONSOLE_DEMO_PULSE_PASSWORD", "OPSCONSOLE_DEMO_PULSE_VIEWER_PASSWORD", "OPSCONSOLE_DEMO_STORYTAILOR_KEY",
        "OPSCONSOLE_DEMO_CONVERGE_KEY", "OPSCONSOLE_DEMO_CONVERGE_READONLY_KEY", "OPSCONSOLE_DEMO_PATH_TRACKER_TOKEN",
        "OPSCONSOLE_DEMO_DATA_PIPELINE_KEY"])
    assert len(set(env.values())) == 7
    assert Credentials.generate(seed=5) == creds and Credentials.generate() != Credentials.generate()
    assert Credentials.from_env(env) == creds
    assert not any(secret in repr(creds) for secret in env.values())
    assert (creds.pulse_user, creds.pulse_viewer_user) == ("admin", "viewer")


def test_scenarios_in_order_and_unknown_refused():
    assert SCENARIOS == ("normal", "conversion-stall", "emission-gap", "cardinality-overflow", "unsubscribe-spike",
                         "crisis-sla", "debt-surge", "fallback-spike", "generate-errors", "error-spike", "latency",
                         "queue-full", "brute-force", "service-down")
    fleet = Fleet(VirtualClock(START), credentials=Credentials.generate(seed=3))
    with pytest.raises(ValueError, match="unknown scenario"):
        fleet.set_scenario("meteor")
    with pytest.raises(ValueError):
        Fleet(VirtualClock(START), scenario="meteor")


# ---------------------------------------------------------------- shapes


async def test_conversion_shapes(sim):
    sim.advance(600)
    assert await sim.json("conversion", "/api/health") == {"status": "ok"}
    health = await sim.json("conversion", "/api/conversion/health")
    assert set(health) == {"status", "last_event_age_seconds", "started_at", "events_by_type", "known_types",
                           "coverage"}
    assert health["status"] == "degraded" and health["coverage"] == 0.25  # backend types deferred: expected
    assert parse_iso(health["started_at"]) == START and 0 <= health["last_event_age_seconds"] < 5
    assert len(health["known_types"]) == 8 and set(health["events_by_type"]) == set(health["known_types"])
    assert health["events_by_type"]["paywall_viewed"] > 5 * health["events_by_type"]["upgrade_clicked"] > 0
    stats = await sim.json("conversion", "/api/conversion/stats")
    assert stats["window_seconds"] == 3600 and parse_iso(stats["window_start"]) == START - START % 3600
    assert 10 <= stats["bucket_count"] <= 100 and stats["bucket_count"] == len(stats["buckets"])
    assert stats["total"] == sum(b["count"] for b in stats["buckets"]) > 0
    assert set(stats["buckets"][0]) == {"key", "type", "count"} and ":" in stats["buckets"][0]["key"]
    assert await sim.json("conversion", "/api/conversion/config") == {"enabled": True, "disabled_surfaces": []}


async def test_pulse_with_no_event_since_a_start_over_5_min_ago_is_stale(sim):
    sim.fleet.set_scenario("conversion-stall")
    sim.advance(200)
    health = await sim.json("conversion", "/api/conversion/health")
    assert health["last_event_age_seconds"] is None and health["status"] == "degraded"
    sim.advance(101)
    assert (await sim.json("conversion", "/api/conversion/health"))["status"] == "stale"


async def test_pipelines_switches_shape(sim):
    body = await sim.json("pipelines", "/api/pipelines/switches")
    assert [s["pipeline"] for s in body["switches"]] == [
        "daily-digest", "weekly-insights", "story-scoring", "referral-rewards", "expire-credits",
        "org-health-report", "crisis-alert", "therapeutic-checkin"]
    assert all(s["enabled"] is True and parse_iso(s["updated_at"]) < START for s in body["switches"])


async def test_converge_shapes_and_api_mirror(sim):
    sim.advance(900)
    debt = await sim.json("converge", "/v1/verification/debt")
    assert set(debt) == {"debt_score", "staleness_score", "queue_pressure_score", "review_backlog_score",
                         "conflict_pressure_score", "retry_pressure_score", "status", "tenant_id", "computed_at"}
    assert 0 <= debt["debt_score"] < 30 and debt["status"] == "green" and debt["tenant_id"] is None
    assert all(0 <= debt[k] <= 1 for k in debt if k.endswith("_score") and k != "debt_score")
    assert (await sim.json("converge", "/v1/verification/debt?tenant_id=acme"))["tenant_id"] == "acme"
    intake = await sim.json("converge", "/v1/intake/status")
    assert intake["mode"] == intake["effective_mode"] == "open"
    assert set(intake["stats"]) == {"accepted_1h", "throttled_1h", "rejected_1h"} and intake["stats"]["accepted_1h"] > 0
    reviews = await sim.json("converge", "/v1/reviews/summary")
    assert set(reviews) == {"pending", "assigned", "completed", "cancelled", "escalated", "sla_breaches",
                            "oldest_pending_seconds"}
    security = await sim.json("converge", "/v1/security/summary")
    assert set(security) == {"critical", "high", "medium", "low", "last_scan_at"} and security["low"] > 0
    queue = await sim.json("converge", "/v1/queue/state")
    assert set(queue) == {"validated", "queued", "processing", "locked", "lock_age_seconds"}
    for path in ("/verification/debt", "/intake/status", "/flags", "/reviews/summary", "/security/summary",
                 "/queue/state"):
        assert await sim.json("converge", "/api" + path) == await sim.json("converge", "/v1" + path)


async def test_converge_has_the_19_runbook_flags_with_their_defaults(sim):
    flags = {f["name"]: f for f in (await sim.json("converge", "/v1/flags"))["flags"]}
    assert len(flags) == 19 and all(f["source"] == "default" for f in flags.values())
    assert {n for n, f in flags.items() if not f["enabled"]} == {
        "code_ownership", "advisory_locks", "llm_review_advisor", "notifications"}
    assert {n: f["mode"] for n, f in flags.items() if f["mode"]} == {
        "semantic_conflicts": "shadow", "pre_eval_harness": "shadow", "semantic_embeddings_model": "deterministic",
        "risk_auto_classify": "enforce", "advisory_locks": "shadow", "llm_review_advisor": "shadow",
        "notifications": "shadow"}


async def test_path_tracker_shapes(sim):
    sim.advance(1800)
    ops = await sim.json("path_tracker", f"{PT}/ops")
    assert ops["enabled"] is True and ops["rollout"]["percent"] == 35 and ops["rollout"]["allowlist"]
    assert 0.02 < ops["fallbackRate1h"] < 0.1 and ops["generateErrorRate15m"] < 0.05
    assert ops["signals"] == {"fallbackTriggered": False, "generateErrorTriggered": False}
    assert 1000 < ops["stepCompletions1h"] < 3000 and isinstance(ops["recentFailedAlerts1h"], int)
    days = (await sim.json("path_tracker", f"{PT}/analytics?days=14"))["days"]
    assert len(days) == 14 and days[-1]["date"] == "2026-09-21" and days[0]["date"] == "2026-09-08"
    assert set(days[0]) == {"date", "steps_started", "steps_completed", "fallbacks", "generate_errors"}
    assert days[0]["steps_started"] < days[-2]["steps_started"]  # earlier rollout stage (5 % vs 35 %)
    alerts = await sim.json("path_tracker", f"{PT}/alerts?page=1&pageSize=2")
    assert alerts["page"] == 1 and alerts["pageSize"] == 2 and alerts["total"] >= len(alerts["items"]) > 0
    assert set(alerts["items"][0]) == {"id", "createdAt", "kind", "status", "errorText", "attempts"}
    assert (await sim.call("path_tracker", "GET", f"{PT}/analytics?days=x")).status_code == 400


async def test_data_pipeline_shapes(sim):
    sim.advance(300)
    assert await sim.json("data_pipeline", "/health/ready") == {"status": "ready"}
    failed = (await sim.json("data_pipeline", "/api/v1/pipelines/executions?status=failed"))["executions"]
    assert 1 <= len(failed) <= 10 and all(e["status"] == "failed" and e["error"] for e in failed)
    assert set(failed[0]) == {"id", "pipeline_id", "tenant_id", "status", "error", "started_at"}
    scrape = await sim.metrics("data_pipeline")
    requests = total(scrape, "http_requests_total")
    assert 15 * 300 < requests < 30 * 300
    assert total(scrape, "http_requests_total", status_code="500") / requests < 0.02
    assert total(scrape, "metadata_log_queue_size") / total(scrape, "metadata_log_queue_capacity") < 0.5
    assert 0.1 * 300 < total(scrape, "process_cpu_seconds_total") < 0.4 * 300


CONTRACT_METRICS = {
    "conversion": {"pulse_conversion_events_total": {"type", "surface"},
                   "pulse_conversion_events_invalid_total": {"reason"},
                   "pulse_conversion_events_skipped_total": {"reason"}},
    "pipelines": {"storytailor_pipeline_executions_total": {"pipeline", "outcome"},
                  "storytailor_pipeline_vetoes_total": {"pipeline", "reason"},
                  "storytailor_emails_sent_total": {"pipeline"}, "storytailor_email_failures_total": {"pipeline"},
                  "storytailor_unsubscribes_total": {"pipeline"}, "storytailor_sla_violations_total": {"pipeline"},
                  "storytailor_lambda_errors_total": set(), "storytailor_lambda_duration_seconds": set()},
    "converge": {"converge_queue_depth": set(), "converge_intents_processed_total": {"result"},
                 "converge_rate_limit_hits_total": {"tenant"}, "converge_http_requests_total": {"status_code"}},
    "path_tracker": {"path_tracker_steps_total": {"outcome"}, "path_tracker_alert_deliveries_total": {"status"}},
    "data_pipeline": {"http_requests_total": {"method", "endpoint", "status_code"},
                      "http_request_duration_seconds": set(), "metadata_log_queue_size": set(),
                      "metadata_log_queue_capacity": set(), "metadata_log_flush_total": set(),
                      "rate_limit_hits_total": {"tenant_id"}, "auth_failures_total": {"tenant_id", "source_ip"},
                      "pipeline_executions_total": {"pipeline", "status"}, "bigquery_errors_total": {"reason"},
                      "process_cpu_seconds_total": set()},
}


@pytest.mark.parametrize("service", list(CONTRACT_METRICS))
async def test_metrics_parse_with_the_contract_names_and_labels(sim, service):
    sim.advance(1200)
    r = await sim.call(service, "GET", "/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    for name, labels in CONTRACT_METRICS[service].items():
        base = name.removesuffix("_total")
        fam = families[base]
        assert fam.samples, name
        for s in fam.samples:
            assert set(s.labels) - {"le"} == labels, (name, s.labels)
        if base.endswith("_duration_seconds"):
            les = [s.labels["le"] for s in fam.samples if "le" in s.labels]
            assert fam.type == "histogram" and les == ["0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "+Inf"]
            count = next(s.value for s in fam.samples if s.name.endswith("_count"))
            assert count > 0 and [s.value for s in fam.samples if "le" in s.labels][-1] == count


# ---------------------------------------------------------------- auth

PROTECTED = [
    ("conversion", "GET", "/api/conversion/health"), ("conversion", "GET", "/api/conversion/stats"),
    ("conversion", "GET", "/api/conversion/config"), ("conversion", "PUT", "/api/conversion/config"),
    ("conversion", "POST", "/api/conversion/events"), ("conversion", "GET", "/metrics"),
    ("pipelines", "GET", "/api/pipelines/switches"), ("pipelines", "PUT", "/api/pipelines/switches/daily-digest"),
    ("pipelines", "GET", "/metrics"),
    ("converge", "GET", "/v1/verification/debt"), ("converge", "GET", "/api/flags"),
    ("converge", "POST", "/v1/intake/mode"), ("converge", "POST", "/v1/flags/notifications"),
    ("path_tracker", "GET", f"{PT}/ops"), ("path_tracker", "PUT", f"{PT}/rollout"),
    ("path_tracker", "POST", f"{PT}/alerts/retry-failed"), ("path_tracker", "GET", "/metrics"),
    ("data_pipeline", "GET", "/api/v1/pipelines/executions"),
    ("data_pipeline", "POST", "/api/v1/pipelines/openai_usage/retry"),
]
WRONG = {"auth": ("admin", "nope"), "headers": {"x-api-key": "nope", "authorization": "Bearer nope"}}


@pytest.mark.parametrize("service,method,path", PROTECTED)
async def test_missing_or_wrong_credentials_get_401(sim, service, method, path):
    url = sim.urls[service] + path
    for kw in ({}, {"auth": WRONG["auth"]} if service == "conversion" else {"headers": WRONG["headers"]}):
        r = await sim.http.request(method, url, json={"enabled": False}, **kw)
        assert r.status_code == 401 and "error" in r.json(), (kw, r.text)


async def test_roles_and_open_endpoints(sim):
    r = await sim.call("conversion", "PUT", "/api/conversion/config", who="viewer", json={"enabled": False})
    assert r.status_code == 403 and (await sim.json("conversion", "/api/conversion/config"))["enabled"] is True
    assert (await sim.call("conversion", "GET", "/api/conversion/stats", who="viewer")).status_code == 200
    for path, body in (("/v1/intake/mode", {"mode": "pause"}), ("/api/flags/notifications", {"enabled": True})):
        assert (await sim.call("converge", "POST", path, who="readonly", json=body)).status_code == 403
    assert (await sim.call("converge", "GET", "/v1/flags", who="readonly")).status_code == 200
    assert (await sim.json("converge", "/v1/intake/status"))["mode"] == "open"
    for service in ("converge", "data_pipeline"):
        for path in ("/health/ready", "/metrics"):
            assert (await sim.http.get(sim.urls[service] + path)).status_code == 200
    assert [(m.service, m.status) for m in sim.fleet.mutations] == [
        ("conversion", 403), ("converge", 403), ("converge", 403)]


# ---------------------------------------------------------------- scenarios


class Scrapes:
    """Periodic scrapes of one service, for increases over trailing windows like the console computes."""

    def __init__(self, sim: Sim, service: str) -> None:
        self.sim, self.service, self.snaps = sim, service, []

    async def scrape(self) -> None:
        self.snaps.append((self.sim.clock.now(), await self.sim.metrics(self.service)))

    def increase(self, window: float, name: str, **labels) -> float:
        times = [t for t, _ in self.snaps]
        old = self.snaps[bisect.bisect_left(times, self.snaps[-1][0] - window)][1]
        return total(self.snaps[-1][1], name, **labels) - total(old, name, **labels)

    def p95(self, window: float) -> float:
        bounds = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf")]
        cum = [self.increase(window, "http_request_duration_seconds_bucket", le=str(b) if b < 1e9 else "+Inf")
               for b in bounds]
        return next(b for b, c in zip(bounds, cum) if c >= 0.95 * cum[-1])


async def pulse(sim: Sim, key: str) -> dict:
    return await sim.json("conversion", f"/api/conversion/{key}")


async def tripped(scenario: str, sim: Sim, s: Scrapes) -> bool:
    """The runbook threshold of each scenario, computed as the console would."""
    if scenario == "conversion-stall":
        return (await pulse(sim, "health"))["status"] == "stale"
    if scenario == "emission-gap":
        return (await pulse(sim, "health"))["events_by_type"]["upgrade_clicked"] == 0
    if scenario == "cardinality-overflow":
        return (await pulse(sim, "stats"))["bucket_count"] > 500
    if scenario == "unsubscribe-spike":
        sent = s.increase(3600, "storytailor_emails_sent_total")
        return s.increase(3600, "storytailor_unsubscribes_total") > 0.005 * sent
    if scenario == "crisis-sla":
        return s.increase(3600, "storytailor_sla_violations_total", pipeline="crisis-alert") > 3
    if scenario == "debt-surge":
        debt = await sim.json("converge", "/v1/verification/debt")
        return debt["debt_score"] > 70 and (await sim.json("converge", "/v1/intake/status"))["mode"] == "open"
    if scenario in ("fallback-spike", "generate-errors"):
        ops = await sim.json("path_tracker", f"{PT}/ops")
        window, outcome, key, limit = ((3600, "fallback", "fallbackRate1h", 0.2) if scenario == "fallback-spike"
                                       else (900, "generate_error", "generateErrorRate15m", 0.05))
        steps = "path_tracker_steps_total"
        mine = s.increase(window, steps, outcome=outcome) / s.increase(window, steps)
        assert abs(mine - ops[key]) < 0.03  # the console can recompute the service's figure from its counters
        signal = "fallbackTriggered" if outcome == "fallback" else "generateErrorTriggered"
        return ops[key] > limit and ops["signals"][signal]
    if scenario == "error-spike":
        return s.increase(300, "http_requests_total", status_code="500") > 0.05 * s.increase(300, "http_requests_total")
    if scenario == "latency":
        return s.p95(300) > 1.0
    if scenario == "queue-full":
        last = s.snaps[-1][1]
        return total(last, "metadata_log_queue_size") > 0.9 * total(last, "metadata_log_queue_capacity")
    if scenario == "brute-force":
        return s.increase(300, "auth_failures_total", source_ip="203.0.113.66") / 300 > 1
    raise AssertionError(scenario)


# scenario → (service scraped, minutes of normal history first, minutes by which it must trip)
CASES = {
    "conversion-stall": ("conversion", 10, 5.5), "emission-gap": ("conversion", 10, 5.5),
    "cardinality-overflow": ("conversion", 10, 3), "unsubscribe-spike": ("pipelines", 60, 15),
    "crisis-sla": ("pipelines", 60, 8), "debt-surge": ("converge", 20, 10),
    "fallback-spike": ("path_tracker", 60, 13), "generate-errors": ("path_tracker", 15, 5),
    "error-spike": ("data_pipeline", 5, 4), "latency": ("data_pipeline", 5, 4),
    "queue-full": ("data_pipeline", 5, 4), "brute-force": ("data_pipeline", 5, 2),
}


@pytest.mark.parametrize("scenario", list(CASES))
async def test_scenario_trips_its_runbook_threshold(sim, scenario):
    service, history, bound = CASES[scenario]
    s = Scrapes(sim, service)
    for _ in range(history * 2):
        sim.advance(30)
        await s.scrape()
    assert not await tripped(scenario, sim, s), "normal operation must not trip it"
    sim.fleet.set_scenario(scenario)
    onset = sim.clock.now()
    while sim.clock.now() - onset < bound * 60:
        sim.advance(15)
        await s.scrape()
        if await tripped(scenario, sim, s):
            break
    else:
        pytest.fail(f"{scenario} did not trip within {bound} min")
    assert sim.fleet.scenario == scenario


async def test_stall_goes_stale_after_301_s_not_before(sim):
    sim.advance(600)
    sim.fleet.set_scenario("conversion-stall")
    sim.advance(290)
    assert (await pulse(sim, "health"))["status"] == "degraded"
    sim.advance(11)
    health = await pulse(sim, "health")
    assert health["status"] == "stale" and health["last_event_age_seconds"] > 300


async def test_cardinality_overflow_drops_events_as_invalid(sim):
    sim.fleet.set_scenario("cardinality-overflow")
    sim.advance(300)
    scrape = await sim.metrics("conversion")
    assert total(scrape, "pulse_conversion_events_invalid_total", reason="cardinality_exceeded") > 0
    assert (await pulse(sim, "stats"))["bucket_count"] > 1000


async def test_service_down_answers_503_everywhere(sim):
    sim.fleet.set_scenario("service-down")
    sim.advance(60)
    r = await sim.http.get(sim.urls["data_pipeline"] + "/health/ready")
    assert r.status_code == 503 and r.json()["status"] == "not_ready" and r.json()["reason"]
    for path in ("/metrics", "/api/v1/pipelines/executions"):
        assert (await sim.call("data_pipeline", "GET", path)).status_code == 503
    sim.fleet.set_scenario("normal")
    sim.advance(60)
    assert (await sim.http.get(sim.urls["data_pipeline"] + "/health/ready")).status_code == 200
    scrape = await sim.metrics("data_pipeline")  # the outage shows in the counters afterwards
    assert 15 * 60 < total(scrape, "http_requests_total", status_code="503") < total(scrape, "http_requests_total")


# ---------------------------------------------------------------- mutations


async def test_pulse_kill_switch_and_surface_switch(sim):
    sim.advance(120)
    config = {"enabled": True, "disabled_surfaces": ["history_chart"]}
    r = await sim.call("conversion", "PUT", "/api/conversion/config", json=config)
    assert r.json() == {"enabled": True, "disabled_surfaces": ["history_chart"]}
    before = await sim.metrics("conversion")
    sim.advance(120)
    after = await sim.metrics("conversion")
    grew = {surface: total(after, "pulse_conversion_events_total", surface=surface)
            - total(before, "pulse_conversion_events_total", surface=surface)
            for surface in ("history_chart", "ai_insights")}
    assert grew["history_chart"] == 0 and grew["ai_insights"] > 50
    assert total(after, "pulse_conversion_events_skipped_total", reason="surface_disabled") > 50
    await sim.call("conversion", "PUT", "/api/conversion/config", json={"enabled": False, "disabled_surfaces": []})
    sim.advance(120)
    off = await sim.metrics("conversion")
    assert total(off, "pulse_conversion_events_total") == total(after, "pulse_conversion_events_total")
    assert total(off, "pulse_conversion_events_skipped_total", reason="collection_disabled") > 200
    for bad in ({"enabled": "no"}, {"disabled_surfaces": "x"}, {"colour": 1}, [1]):
        r = await sim.call("conversion", "PUT", "/api/conversion/config", json=bad)
        assert r.status_code == 400 and r.json()["error"]
    assert [m.status for m in sim.fleet.mutations] == [200, 200, 400, 400, 400, 400]
    assert sim.fleet.mutations[0] == Mutation(START + 120, "conversion", "PUT", "/api/conversion/config",
                                              {"enabled": True, "disabled_surfaces": ["history_chart"]}, 200)


async def test_pulse_test_event_is_recorded_once(sim):
    event = {"type": "paywall_viewed", "capability": "test", "surface": "runbook_test",
             "timestamp": int(START * 1000), "idempotency_key": "runbook-test-1"}
    for _ in range(2):
        r = await sim.call("conversion", "POST", "/api/conversion/events", json=event)
        assert r.status_code == 202 and r.json() == {"accepted": True}
    scrape = await sim.metrics("conversion")
    assert total(scrape, "pulse_conversion_events_total", surface="runbook_test") == 1
    keys = {b["key"] for b in (await pulse(sim, "stats"))["buckets"]}
    assert "runbook_test:test" in keys
    r = await sim.call("conversion", "POST", "/api/conversion/events", json={**event, "type": "nonsense"})
    assert r.status_code == 400
    assert sim.fleet.test_events == 2 and sim.fleet.mutations == []
    assert sim.fleet.requests[("conversion", "/api/conversion/events")] == 3


def digest(scrape: dict) -> tuple[float, float]:
    """(daily-digest emails sent, daily-digest executions vetoed by the kill switch)."""
    return (total(scrape, "storytailor_emails_sent_total", pipeline="daily-digest"),
            total(scrape, "storytailor_pipeline_vetoes_total", pipeline="daily-digest", reason="KILL_SWITCH_ACTIVE"))


async def test_storytailor_switch_takes_effect_after_the_cache_delay(sim):
    sim.advance(600 - START % 600 + 10)  # a daily-digest burst is under way
    r = await sim.call("pipelines", "PUT", "/api/pipelines/switches/daily-digest", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert parse_iso(r.json()["updated_at"]) == int(sim.clock.now())
    sent_at_flip, _ = digest(await sim.metrics("pipelines"))
    sim.advance(60)
    sent_early, killed_early = digest(await sim.metrics("pipelines"))
    assert sent_early > sent_at_flip and killed_early == 0  # the curator's cache still says enabled
    sim.advance(70)
    sent_cached, _ = digest(await sim.metrics("pipelines"))
    sim.advance(600)  # through the next digest burst
    sent_late, killed_late = digest(await sim.metrics("pipelines"))
    assert sent_late == sent_cached and killed_late > 100
    switches = (await sim.json("pipelines", "/api/pipelines/switches"))["switches"]
    assert [s["pipeline"] for s in switches if not s["enabled"]] == ["daily-digest"]
    for name, body, status in (("nope", {"enabled": False}, 404), ("crisis-alert", {"enabled": "off"}, 400)):
        assert (await sim.call("pipelines", "PUT", f"/api/pipelines/switches/{name}", json=body)).status_code == status


async def test_converge_intake_modes_and_flags(sim):
    sim.fleet.set_scenario("debt-surge")
    sim.advance(900)
    surged = await sim.json("converge", "/v1/verification/debt")
    r = await sim.call("converge", "POST", "/api/intake/mode", json={"mode": "pause"})
    assert r.status_code == 200 and r.json()["mode"] == r.json()["effective_mode"] == "pause"
    accepted = (await sim.json("converge", "/v1/intake/status"))["stats"]["accepted_1h"]
    sim.advance(2400)
    status = await sim.json("converge", "/v1/intake/status")
    assert status["stats"]["accepted_1h"] <= accepted and status["stats"]["rejected_1h"] > 100
    assert (await sim.json("converge", "/v1/verification/debt"))["debt_score"] < surged["debt_score"] - 5
    await sim.call("converge", "POST", "/v1/intake/mode", json={"mode": "throttle"})
    sim.advance(600)
    assert (await sim.json("converge", "/v1/intake/status"))["stats"]["throttled_1h"] > 10
    r = await sim.call("converge", "POST", "/v1/flags/security_adapters", json={"enabled": False})
    assert r.json() == {"name": "security_adapters", "enabled": False, "mode": None, "source": "runtime"}
    flags = {f["name"]: f for f in (await sim.json("converge", "/api/flags"))["flags"]}
    assert flags["security_adapters"]["source"] == "runtime" and flags["audit_chain"]["source"] == "default"
    assert (await sim.call("converge", "POST", "/v1/flags/nope", json={"enabled": False})).status_code == 404
    assert (await sim.call("converge", "POST", "/v1/flags/audit_chain", json={"enabled": 1})).status_code == 400
    assert (await sim.call("converge", "POST", "/v1/intake/mode", json={"mode": "stop"})).status_code == 400
    assert [m.path for m in sim.fleet.mutations][:2] == ["/api/intake/mode", "/v1/intake/mode"]


async def test_path_tracker_rollout_scales_volume(sim):
    s = Scrapes(sim, "path_tracker")
    await s.scrape()
    sim.advance(600)
    await s.scrape()
    at35 = s.increase(600, "path_tracker_steps_total")
    r = await sim.call("path_tracker", "PUT", f"{PT}/rollout", json={"percent": 0})
    assert r.json() == {"percent": 0, "allowlist": ["qa-alice", "qa-bob"], "denylist": ["u-1093"]}
    sim.advance(600)
    await s.scrape()
    assert s.increase(600, "path_tracker_steps_total") < 0.1 * at35  # the allowlist only
    assert (await sim.json("path_tracker", f"{PT}/ops"))["rollout"]["percent"] == 0
    for bad in ({"percent": 101}, {"percent": "5"}, {"allowlist": []}, {"percent": 5, "denylist": "u1"}):
        assert (await sim.call("path_tracker", "PUT", f"{PT}/rollout", json=bad)).status_code == 400


async def test_path_tracker_retry_failed_deliveries(sim, monkeypatch):
    monkeypatch.setattr(path_tracker, "WEBHOOK_FAILURE", 0.5)  # a flaky webhook
    sim.fleet.set_scenario("fallback-spike")  # which raises an alert every 5 minutes
    sim.advance(4 * 3600)
    failed = (await sim.json("path_tracker", f"{PT}/alerts?pageSize=200&status=failed"))["items"]
    recent = [a for a in failed if parse_iso(a["createdAt"]) > sim.clock.now() - 3600]
    assert failed and (await sim.json("path_tracker", f"{PT}/ops"))["recentFailedAlerts1h"] == len(recent)
    before = await sim.metrics("path_tracker")
    r = await sim.call("path_tracker", "POST", f"{PT}/alerts/retry-failed", json={"sinceMinutes": 60})
    assert r.status_code == 200 and r.json() == {"retried": len(recent)}
    assert (await sim.json("path_tracker", f"{PT}/ops"))["recentFailedAlerts1h"] == 0
    after = await sim.metrics("path_tracker")
    deliveries = "path_tracker_alert_deliveries_total"
    assert total(after, deliveries, status="sent") - total(before, deliveries, status="sent") == len(recent)
    still = (await sim.json("path_tracker", f"{PT}/alerts?pageSize=200&status=failed"))["total"]
    assert still == len(failed) - len(recent)
    r = await sim.call("path_tracker", "POST", f"{PT}/alerts/retry-failed", json={"sinceMinutes": 0})
    assert r.status_code == 400


async def test_data_pipeline_retry_leaves_the_failed_list(sim):
    failed = (await sim.json("data_pipeline", "/api/v1/pipelines/executions?status=failed"))["executions"]
    target = failed[0]["pipeline_id"]
    expected = sum(e["pipeline_id"] == target for e in failed)
    r = await sim.call("data_pipeline", "POST", f"/api/v1/pipelines/{target}/retry")
    assert r.status_code == 202 and r.json() == {"retried": expected}
    left = (await sim.json("data_pipeline", "/api/v1/pipelines/executions?status=failed"))["executions"]
    assert all(e["pipeline_id"] != target for e in left) and len(left) == len(failed) - expected
    sim.advance(31)
    runs = (await sim.json("data_pipeline", "/api/v1/pipelines/executions"))["executions"]
    assert {e["status"] for e in runs if e["id"] == failed[0]["id"]} == {"completed"}
    assert (await sim.call("data_pipeline", "POST", "/api/v1/pipelines/nope/retry")).status_code == 404
    r = await sim.call("data_pipeline", "POST", f"/api/v1/pipelines/{target}/retry", content=b"{")
    assert r.status_code == 400
    assert [(m.method, m.status, m.body) for m in sim.fleet.mutations] == [
        ("POST", 202, None), ("POST", 404, None), ("POST", 400, "{")]


# ---------------------------------------------------------------- determinism, time


ENDPOINTS = [("conversion", "/api/conversion/health"), ("conversion", "/api/conversion/stats"),
             ("pipelines", "/api/pipelines/switches"), ("converge", "/v1/verification/debt"),
             ("converge", "/v1/reviews/summary"), ("path_tracker", f"{PT}/ops"),
             ("path_tracker", f"{PT}/alerts"), ("data_pipeline", "/api/v1/pipelines/executions")]


async def bodies(seed: int, polls: list[float], switch_at: float = 900.5) -> list[list[str]]:
    """Every endpoint and /metrics at each poll time; the scenario switches to `latency` at `switch_at`."""
    clock = VirtualClock(START)
    fleet = Fleet(clock, seed=seed, credentials=Credentials.generate(seed=2))
    sim = Sim(fleet, clock, fleet.credentials, await fleet.start(), httpx.AsyncClient())
    out = []
    try:
        for t in polls:
            clock.set(START + t)
            if t == switch_at:
                fleet.set_scenario("latency")
            out.append([(await sim.call(service, "GET", path)).text
                        for service, path in ENDPOINTS + [(s, "/metrics") for s in fleet.urls]])
    finally:
        await sim.http.aclose()
        await fleet.stop()
    return out


async def test_same_seed_scenario_and_times_give_identical_bodies():
    first = await bodies(11, [30, 400, 900.5, 1500])
    assert first == await bodies(11, [30, 400, 900.5, 1500])
    assert first[-1] == (await bodies(11, [700, 900.5, 1500]))[-1]  # how often it was polled does not matter
    assert first[-1] != (await bodies(12, [30, 400, 900.5, 1500]))[-1]


async def test_rewound_clock_and_long_gaps(sim, monkeypatch):
    sim.advance(600)
    sim.clock.set(START + 100)  # a replay seek backwards: the models keep their state
    assert (await sim.call("converge", "GET", "/v1/queue/state")).status_code == 200
    monkeypatch.setattr(sim_base, "MAX_STEPS", 100)  # beyond the cap the model jumps
    sim.clock.set(START + 100_000)
    await sim.json("path_tracker", f"{PT}/ops")
    model = sim.fleet.models["path_tracker"]
    assert model.t == pytest.approx(START + 100_000) and sum(model.steps.values()) < 1500


async def test_a_connection_polled_every_five_seconds_stays_open():
    """The simulated services kept an idle connection 5 s (uvicorn's default), exactly the console's poll interval of
    most endpoints: each poll could find its connection closing under it (a reconnect, or a poll failed on a closed
    socket). They now keep it longer than the console keeps an idle one (15 s), as a production server does."""
    import asyncio

    from console.clock import WallClock
    from console.sources.client import KEEPALIVE, Client

    fleet = Fleet(WallClock(), scenario="normal", seed=1)
    urls = await fleet.start(host="127.0.0.1")
    client = Client()
    try:
        url = urls["data_pipeline"] + "/health/ready"
        for i in range(3):
            if i:
                await asyncio.sleep(5.5)  # idle longer than the old keep-alive, as between two polls
            assert (await client.request("GET", url)).status_code == 200
        assert client.connections_opened == 1 and KEEPALIVE > 11
    finally:
        await client.aclose()
        await fleet.stop()
