"""Sources against real HTTP on loopback: one-line errors, no secrets, backoff, and the readers of every kind."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from dataclasses import dataclass, field

import httpx
import pytest
import respx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.clock import VirtualClock
from console.config.schema import Auth, Service
from console.sources import build_source, read
from console.sources import client as poll
from console.sources.base import MAX_BACKOFF

SECRET = "s3cr3t-Pa55word"


@dataclass
class FakeServer:
    """What the loopback app answers, path → (status, body) or "hang"; and what it was sent."""

    url: str
    routes: dict = field(default_factory=dict)
    seen: list = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def _app(fake: FakeServer) -> Starlette:
    async def handle(request: Request) -> Response:
        fake.seen.append(dict(request.headers))
        key = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        route = fake.routes.get(key, fake.routes.get(request.url.path, (404, "no such route")))
        if route == "hang":
            await fake.release.wait()  # never set during the test: the client must time out
            return Response("late")
        if callable(route):
            return route(request)
        status, body = route
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        return Response(body, status_code=status)

    return Starlette(routes=[Route("/{path:path}", handle)])


@pytest.fixture
async def server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # listening before uvicorn starts: early requests wait in the backlog, no race
    fake = FakeServer(f"http://127.0.0.1:{sock.getsockname()[1]}")
    uv = uvicorn.Server(uvicorn.Config(_app(fake), log_level="warning", lifespan="off"))
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    yield fake
    fake.release.set()
    uv.should_exit = True
    await task
    sock.close()


@pytest.fixture(params=["aiohttp", "httpx"])
async def client(request):
    """Every poll test runs on both clients: the engine's (aiohttp) and httpx (mitigations and silences send through it)."""
    async with (poll.Client() if request.param == "aiohttp" else httpx.AsyncClient()) as c:
        yield c


@pytest.fixture
async def httpx_client():
    async with httpx.AsyncClient() as c:
        yield c


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    for name in ("PULSE_PASSWORD", "PT_TOKEN", "CONVERGE_KEY"):
        monkeypatch.setenv(name, SECRET)


BASIC = Auth(type="basic", username="admin", password_env="PULSE_PASSWORD")
BEARER = Auth(type="bearer", token_env="PT_TOKEN")
HEADER = Auth(type="header", value_env="CONVERGE_KEY")


def service(url: str, kind: str = "scrape", auth: Auth = BASIC, **kw) -> Service:
    return Service(name="svc", kind=kind, url=url, auth=auth, timeout=kw.pop("timeout", 1.0), **kw)


async def poll_one(svc: Service, client, key: str = "metrics", clock=None):
    src = build_source(svc, client, clock or VirtualClock())
    src.endpoints = [ep for ep in src.endpoints if ep.key == key]
    (obs,) = await src.poll_due(src.next_due())
    if obs.error is not None:
        assert_clean(obs.error)  # every error any test here provokes
    return obs


def assert_clean(error: str) -> None:
    """One line, and nothing that would let a reader of the screen or the recording log in."""
    token = base64.b64encode(f"admin:{SECRET}".encode()).decode()
    assert "\n" not in error and "\r" not in error
    assert SECRET not in error and token not in error and "Authorization" not in error


# --- errors -----------------------------------------------------------------------------------


async def test_unreachable(client):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    obs = await poll_one(service(f"http://127.0.0.1:{port}"), client)
    assert obs.error == "unreachable: connection refused" and obs.status is None


@pytest.mark.parametrize("auth, message", [
    (BASIC, "HTTP 401 unauthorized (basic auth as admin refused)"),
    (BEARER, "HTTP 401 unauthorized (bearer token from PT_TOKEN refused)"),
    (HEADER, "HTTP 401 unauthorized (x-api-key from CONVERGE_KEY refused)"),
    (Auth(), "HTTP 401 unauthorized (no credentials configured)"),
])
async def test_401_names_who_was_refused(server, client, auth, message):
    server.routes["/metrics"] = (401, f"bad credentials {SECRET}")
    obs = await poll_one(service(server.url, auth=auth), client)
    assert (obs.error, obs.status) == (message, 401)
    assert_clean(obs.error)


async def test_credentials_are_sent_as_configured(server, client):
    server.routes["/metrics"] = (200, "a 1\n")
    for auth in (BASIC, BEARER, HEADER):
        assert (await poll_one(service(server.url, auth=auth), client)).ok
    token = base64.b64encode(f"admin:{SECRET}".encode()).decode()
    assert [h.get("authorization") or h.get("x-api-key") for h in server.seen] == [
        f"Basic {token}", f"Bearer {SECRET}", SECRET]


async def test_403(server, client):
    server.routes["/metrics"] = (403, "operator role required")
    assert (await poll_one(service(server.url), client)).error == "HTTP 403 forbidden"


async def test_500_shows_the_start_of_the_body_without_secrets(server, client):
    def echo(request: Request) -> Response:  # a careless server that echoes what it was sent
        return Response(f"boom\n\tsent: {dict(request.headers)} and {SECRET} " + "x" * 200, status_code=500)

    server.routes["/metrics"] = echo
    obs = await poll_one(service(server.url), client)
    assert obs.error.startswith("HTTP 500: boom sent: {") and obs.status == 500
    assert len(obs.error) <= len("HTTP 500: ") + 80
    assert_clean(obs.error)


async def test_500_with_empty_body(server, client):
    server.routes["/metrics"] = (500, "")
    assert (await poll_one(service(server.url), client)).error == "HTTP 500: (empty body)"


async def test_timeout(server, client):
    server.routes["/metrics"] = "hang"
    obs = await poll_one(service(server.url, timeout=0.2), client)
    assert obs.error == "timeout after 0.2s"


async def test_not_json(server, client):
    server.routes["/api/health"] = (200, "<html>\n<body>Bad gateway</body></html>")
    obs = await poll_one(service(server.url, kind="conversion"), client, "health")
    assert obs.error == ("not JSON: Expecting value: line 1 column 1, "
                         "body starts '<html> <body>Bad gateway</body></html>'")


async def test_wrong_shape_is_a_one_line_read_error(server, client):
    server.routes["/v1/verification/debt"] = (200, {"debt_score": "high", "status": "red"})
    svc = service(server.url, kind="converge", auth=HEADER)
    obs = await poll_one(svc, client, "debt")
    assert obs.ok and obs.payload == {"debt_score": "high", "status": "red"}  # as received, for replay
    with pytest.raises(ValueError) as err:
        read("converge", "debt", obs.payload, svc.job, svc.instance)
    assert str(err.value) == "debt: debt_score is 'high', expected a number"


async def test_unparsable_metrics(server, client):
    server.routes["/metrics"] = (200, "# TYPE a gauge\na 1\na{x=\"y\"} abc\n")
    obs = await poll_one(service(server.url), client)
    assert obs.error == "metrics: line 3: invalid value 'abc'" and obs.status == 200


async def test_missing_secret_names_the_variable_and_sends_nothing(server, client, monkeypatch):
    monkeypatch.delenv("PULSE_PASSWORD")
    server.routes["/metrics"] = (200, "a 1\n")
    obs = await poll_one(service(server.url), client)
    assert obs.error == "auth: environment variable PULSE_PASSWORD is not set"
    assert server.seen == []


async def test_ready_503_is_a_reading_elsewhere_an_error(server, client):
    server.routes["/health/ready"] = (503, {"status": "not_ready", "reason": "database down"})
    server.routes["/v1/flags"] = (503, {"status": "not_ready"})
    svc = service(server.url, kind="converge", auth=HEADER)
    ready = await poll_one(svc, client, "ready")
    assert ready.ok and ready.status == 503
    reading = read("converge", "ready", ready.payload, "svc", "i")
    assert reading.data == {"status": "not_ready", "reason": "database down"}
    assert gauges(reading) == {"opsconsole_ready": 0.0}
    flags = await poll_one(svc, client, "flags")
    assert flags.error == 'HTTP 503: {"status": "not_ready"}'


@respx.mock
@pytest.mark.parametrize("key, response, message", [
    ("health", httpx.Response(200, content=b"\xff\xfe{\x00"), "not JSON: body is not UTF-8 text"),
    ("health", httpx.Response(200, content=b'{"status": "o'),
     "not JSON: Unterminated string starting at: line 1 column 12, body starts '{\"status\": \"o'"),
    ("metrics", httpx.Response(200, content=b"a 1\n\xc3\x28 2\n"), "metrics: body is not UTF-8 text"),
    ("metrics", httpx.Response(502, content=b"\x1b[31mupstream\x00 down\r\n"), "HTTP 502: upstream down"),
    ("metrics", httpx.RemoteProtocolError("Server disconnected without sending a response."),
     "unreachable: server disconnected without sending a response."),
])
async def test_byte_level_bad_responses(httpx_client, key, response, message):
    client = httpx_client  # respx mocks httpx's transport (the poll client's bytes: tests/test_poll_client.py)
    path = "/metrics" if key == "metrics" else "/api/health"
    # a dropped connection is retried once (a reused keep-alive socket the server had closed)
    route = respx.get(f"http://bad.test{path}").mock(side_effect=[response, response])
    obs = await poll_one(service("http://bad.test", kind="conversion"), client, key)
    assert obs.error == message
    assert_clean(obs.error)
    assert route.call_count == (2 if isinstance(response, httpx.RemoteProtocolError) else 1)


# --- scheduling -------------------------------------------------------------------------------


async def test_backoff_grows_caps_and_resets(server, client):
    clock = VirtualClock()
    server.routes["/metrics"] = (500, "down")
    src = build_source(service(server.url, metrics_interval=5.0), client, clock)
    delays = []
    for _ in range(6):
        clock.set(src.next_due())
        (obs,) = await src.poll_due(clock.now())
        assert not obs.ok
        delays.append(src.next_due() - clock.now())
    for failures, delay in enumerate(delays, start=1):
        expected = min(5.0 * 2 ** failures, MAX_BACKOFF)
        assert 0.8 * expected <= delay <= 1.2 * expected
    assert len(set(delays[-3:])) == 3  # jittered, not lock-step
    assert await src.poll_due(clock.now() + 1) == []  # not due during its backoff
    server.routes["/metrics"] = (200, "a 1\n")
    clock.set(src.next_due())
    (obs,) = await src.poll_due(clock.now())
    assert obs.ok and src.failures["metrics"] == 0
    assert src.next_due() - clock.now() == 5.0


async def test_backoff_jitter_is_seeded(server, client):
    server.routes["/metrics"] = (500, "down")
    dues = []
    for _ in range(2):
        src = build_source(service(server.url), client, VirtualClock(100.0))
        await src.poll_due(100.0)
        dues.append(src.next_due())
    assert dues[0] == dues[1]


async def test_only_due_endpoints_are_polled(server, client):
    clock = VirtualClock(1000.0)
    for path in ("/api/health", "/api/conversion/health", "/api/conversion/stats", "/api/conversion/config"):
        server.routes[path] = (200, {})
    server.routes["/metrics"] = (200, "a 1\n")
    src = build_source(service(server.url, kind="conversion", interval=5.0, metrics_interval=1.0), client, clock)
    first = await src.poll_due(1000.0)
    assert sorted(o.endpoint for o in first) == ["config", "conversion_health", "health", "metrics", "stats"]
    assert all(o.ok and o.ts == 1000.0 and o.source == "svc" for o in first)
    assert [o.endpoint for o in await src.poll_due(1001.0)] == ["metrics"]
    assert src.next_due() == 1002.0


async def test_expedite_makes_an_endpoint_due_now(server, client):
    clock = VirtualClock(1000.0)
    server.routes["/metrics"] = (200, "a 1\n")
    src = build_source(service(server.url, metrics_interval=30.0), client, clock)
    await src.poll_due(1000.0)
    clock.advance(2)
    assert await src.poll_due(clock.now()) == []
    src.expedite("metrics")  # e.g. to verify a mitigation without waiting 30 s
    assert [o.endpoint for o in await src.poll_due(clock.now())] == ["metrics"]
    assert src.next_due() == 1032.0


def test_endpoint_paths_and_intervals():
    svc = service("http://x", kind="path_tracker", interval=5.0, metrics_interval=2.0)
    src = build_source(svc, None, VirtualClock())
    assert [(e.key, e.path, e.interval, e.format) for e in src.endpoints] == [
        ("ops", "/api/admin/path-tracker/ops", 5.0, "json"),
        ("analytics", "/api/admin/path-tracker/analytics?days=14", 60.0, "json"),
        ("alerts", "/api/admin/path-tracker/alerts?page=1&pageSize=20&status=failed", 15.0, "json"),
        ("metrics", "/metrics", 2.0, "metrics")]
    keys = {kind: [e.key for e in build_source(service("http://x", kind=kind), None, VirtualClock()).endpoints]
            for kind in ("conversion", "pipelines", "converge", "data_pipeline", "scrape")}
    assert keys == {
        "conversion": ["health", "conversion_health", "stats", "config", "metrics"],
        "pipelines": ["switches", "metrics"],
        "converge": ["ready", "debt", "intake", "flags", "reviews", "security", "queue", "metrics"],
        "data_pipeline": ["ready", "failed", "metrics"],
        "scrape": ["metrics"]}


async def test_metrics_samples_carry_the_service_target_labels(server, client):
    server.routes["/metrics"] = (200, "# TYPE a counter\na{job=\"x\"} 3\n")
    obs = await poll_one(service(server.url, job="pulse", instance="pulse-1:7655"), client)
    assert [s.labels for s in obs.samples] == [
        {"__name__": "a", "job": "pulse", "instance": "pulse-1:7655", "exported_job": "x"}]
    assert server.seen[0]["accept"].startswith("text/plain")


# --- readers: the sample payloads of CONTRACTS.md ---------------------------------------------


def gauges(reading) -> dict[str, float]:
    """'name{k="v"}' → value, after checking every gauge carries job and instance."""
    out = {}
    for s in reading.gauges:
        labels = dict(s.labels)
        assert (labels.pop("job"), labels.pop("instance")) == ("svc", "i")
        name = labels.pop("__name__")
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        out[name + (f"{{{inner}}}" if inner else "")] = s.value
    return out


CONVERSION_HEALTH = {"status": "degraded", "last_event_age_seconds": 12.5, "started_at": "2026-11-09T10:00:00Z",
                     "events_by_type": {"paywall_viewed": 120, "upgrade_clicked": 0, "trial_started": 3},
                     "known_types": ["paywall_viewed", "upgrade_clicked"], "coverage": 0.25, "extra": 1}


def test_conversion_health():
    r = read("conversion", "conversion_health", CONVERSION_HEALTH, "svc", "i")
    assert r.data == {k: v for k, v in CONVERSION_HEALTH.items() if k != "extra"}
    g = gauges(r)
    assert {k: v for k, v in g.items() if "type_seen" not in k} == {
        'opsconsole_conversion_status{status="healthy"}': 0.0,
        'opsconsole_conversion_status{status="stale"}': 0.0,
        'opsconsole_conversion_status{status="degraded"}': 1.0,
        "opsconsole_conversion_last_event_age_seconds": 12.5,
        "opsconsole_conversion_coverage_ratio": 0.25}
    seen = {k: v for k, v in g.items() if "type_seen" in k}
    assert len(seen) == 8
    assert seen['opsconsole_conversion_type_seen{deferred="false",type="paywall_viewed"}'] == 1.0
    assert seen['opsconsole_conversion_type_seen{deferred="false",type="upgrade_clicked"}'] == 0.0
    assert seen['opsconsole_conversion_type_seen{deferred="true",type="trial_started"}'] == 1.0
    assert seen['opsconsole_conversion_type_seen{deferred="true",type="limit_blocked"}'] == 0.0


@pytest.mark.parametrize("kind, endpoint, payload, data, expected", [
    ("conversion", "health", {"status": "ok"}, {"status": "ok"}, {'opsconsole_up{endpoint="health"}': 1.0}),
    ("conversion", "stats",
     {"window_start": "2026-11-09T10:00:00Z", "window_seconds": 3600, "bucket_count": 42, "total": 512,
      "buckets": [{"key": "history_chart:ai_insights", "type": "paywall_viewed", "count": 12, "x": 0}]},
     {"window_start": "2026-11-09T10:00:00Z", "window_seconds": 3600, "bucket_count": 42, "total": 512,
      "buckets": [{"key": "history_chart:ai_insights", "type": "paywall_viewed", "count": 12}]},
     {"opsconsole_conversion_bucket_count": 42.0}),
    ("conversion", "config", {"enabled": True, "disabled_surfaces": ["a", "b"]},
     {"enabled": True, "disabled_surfaces": ["a", "b"]},
     {"opsconsole_conversion_enabled": 1.0, "opsconsole_conversion_disabled_surfaces": 2.0}),
    ("pipelines", "switches",
     {"switches": [{"pipeline": "daily-digest", "enabled": True, "updated_at": "2026-11-09T10:00:00Z"},
                   {"pipeline": "crisis-alert", "enabled": False, "updated_at": "2026-11-09T10:00:00Z"}]},
     None,
     {'opsconsole_pipeline_switch_enabled{pipeline="daily-digest"}': 1.0,
      'opsconsole_pipeline_switch_enabled{pipeline="crisis-alert"}': 0.0}),
    ("converge", "ready", {"status": "ready"}, {"status": "ready", "reason": None}, {"opsconsole_ready": 1.0}),
    ("converge", "debt",
     {"debt_score": 42, "staleness_score": 0.1, "queue_pressure_score": 0.5, "review_backlog_score": 0.2,
      "conflict_pressure_score": 0, "retry_pressure_score": 0.3, "status": "yellow", "tenant_id": None,
      "computed_at": "2026-11-09T10:00:00Z"},
     None,
     {"opsconsole_converge_debt_score": 42.0,
      'opsconsole_converge_debt_component{component="staleness"}': 0.1,
      'opsconsole_converge_debt_component{component="queue_pressure"}': 0.5,
      'opsconsole_converge_debt_component{component="review_backlog"}': 0.2,
      'opsconsole_converge_debt_component{component="conflict_pressure"}': 0.0,
      'opsconsole_converge_debt_component{component="retry_pressure"}': 0.3}),
    ("converge", "intake",
     {"mode": "throttle", "effective_mode": "pause", "stats": {"accepted_1h": 10, "throttled_1h": 2, "rejected_1h": 0}},
     None,
     {**{f'opsconsole_converge_intake_mode{{mode="{m}"}}': float(m == "throttle")
         for m in ("open", "throttle", "pause", "auto")},
      **{f'opsconsole_converge_intake_effective_mode{{mode="{m}"}}': float(m == "pause")
         for m in ("open", "throttle", "pause", "auto")}}),
    ("converge", "flags",
     {"flags": [{"name": "semantic_conflicts", "enabled": True, "mode": "shadow", "source": "default"},
                {"name": "auto_merge", "enabled": False, "mode": None, "source": "runtime"}]},
     None,
     {'opsconsole_converge_flag_enabled{flag="semantic_conflicts"}': 1.0,
      'opsconsole_converge_flag_enabled{flag="auto_merge"}': 0.0}),
    ("converge", "reviews",
     {"pending": 4, "assigned": 2, "completed": 30, "cancelled": 1, "escalated": 0, "sla_breaches": 1,
      "oldest_pending_seconds": 5400},
     None,
     {**{f'opsconsole_converge_reviews{{state="{s}"}}': v for s, v in
         (("pending", 4.0), ("assigned", 2.0), ("completed", 30.0), ("cancelled", 1.0), ("escalated", 0.0))},
      "opsconsole_converge_review_sla_breaches": 1.0, "opsconsole_converge_review_oldest_pending_seconds": 5400.0}),
    ("converge", "security", {"critical": 0, "high": 2, "medium": 5, "low": 9, "last_scan_at": "2026-11-09T09:00:00Z"},
     None,
     {'opsconsole_converge_security_findings{severity="critical"}': 0.0,
      'opsconsole_converge_security_findings{severity="high"}': 2.0,
      'opsconsole_converge_security_findings{severity="medium"}': 5.0,
      'opsconsole_converge_security_findings{severity="low"}': 9.0}),
    ("converge", "queue", {"validated": 3, "queued": 7, "processing": 1, "locked": True, "lock_age_seconds": 42},
     None,
     {'opsconsole_converge_queue{state="validated"}': 3.0, 'opsconsole_converge_queue{state="queued"}': 7.0,
      'opsconsole_converge_queue{state="processing"}': 1.0, "opsconsole_converge_queue_locked": 1.0,
      "opsconsole_converge_queue_lock_age_seconds": 42.0}),
    ("path_tracker", "ops",
     {"enabled": True, "rollout": {"percent": 35, "allowlist": ["u1"], "denylist": ["u9", "u8"]},
      "recentFailedAlerts1h": 2, "fallbackRate1h": 0.12, "generateErrorRate15m": 0.01,
      "signals": {"fallbackTriggered": False, "generateErrorTriggered": False}, "stepCompletions1h": 940},
     None,
     {"opsconsole_path_tracker_enabled": 1.0, "opsconsole_path_tracker_rollout_percent": 35.0,
      "opsconsole_path_tracker_allowlist_size": 1.0, "opsconsole_path_tracker_denylist_size": 2.0,
      "opsconsole_path_tracker_fallback_rate_1h": 0.12, "opsconsole_path_tracker_generate_error_rate_15m": 0.01,
      "opsconsole_path_tracker_failed_alerts_1h": 2.0, "opsconsole_path_tracker_step_completions_1h": 940.0}),
    ("path_tracker", "analytics",
     {"days": [{"date": "2026-11-09", "steps_started": 100, "steps_completed": 90, "fallbacks": 5,
                "generate_errors": 1}]},
     None, {}),
    ("path_tracker", "alerts",
     {"page": 1, "pageSize": 20, "total": 3,
      "items": [{"id": 7, "createdAt": "2026-11-09T10:00:00Z", "kind": "fallback", "status": "failed",
                 "errorText": "smtp 550", "attempts": 3}]},
     None, {"opsconsole_path_tracker_failed_deliveries": 3.0}),
    ("data_pipeline", "ready", {"status": "not_ready", "reason": "bigquery"},
     {"status": "not_ready", "reason": "bigquery"}, {"opsconsole_ready": 0.0}),
    ("data_pipeline", "failed",
     {"executions": [{"id": "e1", "pipeline_id": "p1", "tenant_id": "t1", "status": "failed", "error": "quota",
                      "started_at": "2026-11-09T10:00:00Z"}] * 2},
     None, {"opsconsole_data_pipeline_failed_executions": 2.0}),
])
def test_contract_payloads(kind, endpoint, payload, data, expected):
    reading = read(kind, endpoint, payload, "svc", "i")
    assert reading.data == (payload if data is None else data)
    assert gauges(reading) == expected


@pytest.mark.parametrize("kind, endpoint, payload, data, expected", [
    ("converge", "debt", {"status": "green"},
     {"debt_score": None, "staleness_score": None, "queue_pressure_score": None, "review_backlog_score": None,
      "conflict_pressure_score": None, "retry_pressure_score": None, "status": "green", "tenant_id": None,
      "computed_at": None},
     {}),
    ("path_tracker", "ops", {"enabled": False, "rollout": {"percent": 5}},
     {"enabled": False, "rollout": {"percent": 5, "allowlist": None, "denylist": None}, "recentFailedAlerts1h": None,
      "fallbackRate1h": None, "generateErrorRate15m": None,
      "signals": {"fallbackTriggered": None, "generateErrorTriggered": None}, "stepCompletions1h": None},
     {"opsconsole_path_tracker_enabled": 0.0, "opsconsole_path_tracker_rollout_percent": 5.0}),
    ("converge", "queue", {"locked": False, "lock_age_seconds": None},
     {"validated": None, "queued": None, "processing": None, "locked": False, "lock_age_seconds": None},
     {"opsconsole_converge_queue_locked": 0.0}),
    ("converge", "flags", {"flags": [{"name": "a"}, {"enabled": True}]},
     {"flags": [{"name": "a", "enabled": None, "mode": None, "source": None},
                {"name": None, "enabled": True, "mode": None, "source": None}]},
     {}),
    ("data_pipeline", "failed", {}, {"executions": None}, {}),
])
def test_missing_fields_are_none_and_have_no_gauge(kind, endpoint, payload, data, expected):
    reading = read(kind, endpoint, payload, "svc", "i")
    assert reading.data == data
    assert gauges(reading) == expected


def test_missing_conversion_fields():
    r = read("conversion", "conversion_health", {"status": "stale", "last_event_age_seconds": None}, "svc", "i")
    assert r.data["events_by_type"] is None and r.data["coverage"] is None
    assert set(gauges(r)) == {f'opsconsole_conversion_status{{status="{s}"}}' for s in ("healthy", "stale", "degraded")}
    assert read("conversion", "health", {}, "svc", "i").gauges == []


@pytest.mark.parametrize("kind, endpoint, payload, message", [
    ("converge", "debt", ["debt"], "debt: body is a list, expected an object"),
    ("converge", "intake", {"mode": "fast"}, "intake: mode is 'fast', expected one of open, throttle, pause, auto"),
    ("converge", "flags", {"flags": [{"name": "x", "enabled": "yes"}]},
     "flags: flags[0].enabled is 'yes', expected true or false"),
    ("converge", "flags", {"flags": {"x": True}}, "flags: flags is an object, expected a list of objects"),
    ("path_tracker", "ops", {"rollout": 35}, "ops: rollout is 35, expected an object"),
    ("path_tracker", "ops", {"rollout": {"allowlist": "u1,u2"}},
     "ops: rollout.allowlist is 'u1,u2', expected a list of strings"),
    ("conversion", "conversion_health", {"started_at": "yesterday"},
     "conversion_health: started_at is 'yesterday', expected an RFC3339 time"),
    ("conversion", "config", {"enabled": 1}, "config: enabled is 1, expected true or false"),
    ("data_pipeline", "failed", {"executions": ["e1"]}, "failed: executions[0] is 'e1', expected an object"),
    ("scrape", "health", {}, "health: no reader for a scrape service"),
])
def test_wrong_shapes(kind, endpoint, payload, message):
    with pytest.raises(ValueError) as err:
        read(kind, endpoint, payload, "svc", "i")
    assert str(err.value) == message
