"""The simulator's cheaper request path answers byte for byte as the one it replaced.

The exposition is written directly instead of through prometheus_client's `generate_latest`, and a service's fixed
routes are dispatched without the Starlette app's middleware (console/sim/metrics.py, console/sim/http.py). Both are
compared here with what they replaced, on the same models: the same bytes, statuses, headers and bookkeeping.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString
from starlette.applications import Starlette

from console.clock import VirtualClock
from console.sim import Credentials, Fleet
from console.sim import metrics as sim_metrics
from console.sim.conversion import post_event
from console.sim.fleet import SERVICES
from console.sim.http import Context

START = 1_790_000_000.0


# --- the exposition: prometheus_client's bytes -------------------------------------------------------------------

def _reference(monkeypatch, families) -> bytes:
    """What the simulator served before: the same families built as prometheus_client metrics, `generate_latest`."""
    def counter(name, doc, labels, values):
        fam = CounterMetricFamily(name, doc, labels=list(labels))
        for key in sorted(values):
            fam.add_metric(list(key), values[key])
        return fam

    def gauge(name, doc, labels, values):
        fam = GaugeMetricFamily(name, doc, labels=list(labels))
        for key in sorted(values):
            fam.add_metric(list(key), values[key])
        return fam

    def histogram(name, doc, bounds, counts, total):
        cumulative, running = [], 0
        for bound, n in zip(list(bounds) + [float("inf")], counts):
            running += n
            cumulative.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        return HistogramMetricFamily(name, doc, buckets=cumulative, sum_value=total)

    class Collector:
        def describe(self):
            return []

        def collect(self):
            return families()

    with monkeypatch.context() as m:
        for name, fn in (("counter", counter), ("gauge", gauge), ("histogram", histogram)):
            m.setattr(sim_metrics, name, fn)
        reg = CollectorRegistry(auto_describe=False)
        reg.register(Collector())
        return generate_latest(reg)


@pytest.mark.parametrize("scenario", ["normal", "cardinality-overflow", "error-spike", "debt-surge", "service-down"])
def test_every_services_exposition_is_the_bytes_generate_latest_wrote(monkeypatch, scenario):
    clock = VirtualClock(START)
    fleet = Fleet(clock, scenario=scenario, seed=5, credentials=Credentials.generate(seed=5))
    for seconds in (0, 1, 37, 600, 3 * 3600):
        clock.advance(seconds)
        for name, model in fleet.models.items():
            model.advance()
            ours = sim_metrics.exposition(model.families)
            assert ours == _reference(monkeypatch, model.families), (name, seconds)
            assert ours.count(b"\n# HELP") >= 1


def test_hostile_label_values_are_escaped_as_generate_latest_escapes_them(monkeypatch):
    clock = VirtualClock(START)
    fleet = Fleet(clock, seed=2, credentials=Credentials.generate(seed=2))
    model = fleet.models["conversion"]
    for i, surface in enumerate(['a"b', "back\\slash", "new\nline", "ünï ☃", "[red]x[/]\x1b[2J", "\\n literal"]):
        post_event(model, {"type": "paywall_viewed", "capability": "c", "surface": surface,
                           "timestamp": 1, "idempotency_key": f"k{i}"}, clock.now())
    text = sim_metrics.exposition(model.families)
    assert text == _reference(monkeypatch, model.families)
    assert b'surface="a\\"b"' in text and b'surface="new\\nline"' in text


@pytest.mark.parametrize("value", [0, 1, 7, 0.5, 1e-9, 123456.0, 999999.5, 1234567.0, 1e7, 12345678.9, 1e22, 2 ** 63,
                                   -1, -1e7, -0.0, float("inf"), float("-inf"), float("nan"), 3.14159, 100000000])
def test_sample_values_are_written_as_prometheus_client_writes_them(value):
    assert sim_metrics.go_float(value) == floatToGoString(value)


# --- the dispatcher: the Starlette app's answers -----------------------------------------------------------------

def _pair(seed: int = 4):
    """Two fleets alike (seed, credentials, clock): one's services as they are, the other's as Starlette apps."""
    clock = VirtualClock(START)
    creds = Credentials.generate(seed=seed)
    fleets, apps = [], []
    for plain in (False, True):
        fleet = Fleet(clock, seed=seed, credentials=creds)
        ctx = Context(clock, fleet.timeline, seed, creds, fleet)
        built = {name: module.build(ctx) for name, module in SERVICES.items()}
        fleet.models = {name: model for name, (model, _) in built.items()}
        apps.append({name: Starlette(routes=api.routes) if plain else api.app() for name, (_, api) in built.items()})
        fleets.append(fleet)
    return clock, creds, fleets, apps


def _requests(c: Credentials):
    basic = {"authorization": "Basic " + base64.b64encode(f"{c.pulse_user}:{c.pulse_password}".encode()).decode()}
    viewer = {"authorization": "Basic " + base64.b64encode(
        f"{c.pulse_viewer_user}:{c.pulse_viewer_password}".encode()).decode()}
    st, cv, ro = {"x-api-key": c.storytailor_key}, {"x-api-key": c.converge_key}, {"x-api-key": c.converge_readonly_key}
    pt, dp = {"authorization": f"Bearer {c.path_tracker_token}"}, {"x-api-key": c.data_pipeline_key}
    wrong = {"x-api-key": "nope", "authorization": "Basic !!!"}
    ev = {"type": "paywall_viewed", "capability": "x", "surface": "history_chart", "timestamp": 1,
          "idempotency_key": "a"}
    out = []
    for path in ("/api/health", "/api/conversion/health", "/api/conversion/stats", "/api/conversion/config",
                 "/metrics"):
        out += [("conversion", "GET", path, basic, None), ("conversion", "GET", path, {}, None),
                ("conversion", "GET", path, viewer, None)]
    out += [("conversion", "PUT", "/api/conversion/config", viewer, {"enabled": False}),
            ("conversion", "PUT", "/api/conversion/config", basic, {"disabled_surfaces": ["ai_insights"]}),
            ("conversion", "PUT", "/api/conversion/config", basic, b"{not json"),
            ("conversion", "PUT", "/api/conversion/config", basic, {"bogus": 1}),
            ("conversion", "POST", "/api/conversion/events", basic, ev),
            ("conversion", "POST", "/api/conversion/events", basic, ev),
            ("conversion", "POST", "/api/conversion/events", basic, {"type": "nope"}),
            ("conversion", "POST", "/api/conversion/config", basic, None),  # wrong method: 405
            ("conversion", "HEAD", "/api/health", basic, None),
            ("conversion", "GET", "/api/health/", basic, None),  # trailing slash: a redirect
            ("conversion", "GET", "/nowhere", basic, None),
            ("conversion", "GET", "/api/conversion/stats?x=1", basic, None)]
    out += [("pipelines", "GET", "/api/pipelines/switches", st, None),
            ("pipelines", "GET", "/metrics", st, None), ("pipelines", "GET", "/metrics", wrong, None),
            ("pipelines", "PUT", "/api/pipelines/switches/daily-digest", st, {"enabled": False}),
            ("pipelines", "PUT", "/api/pipelines/switches/nope", st, {"enabled": False}),
            ("pipelines", "GET", "/api/pipelines/switches", st, None)]
    for prefix in ("/v1", "/api"):
        for path in ("/verification/debt", "/verification/debt?tenant_id=acme", "/verification/debt?tenant_id=%20",
                     "/intake/status", "/flags", "/reviews/summary", "/security/summary", "/queue/state"):
            out += [("converge", "GET", prefix + path, cv, None), ("converge", "GET", prefix + path, ro, None)]
        out += [("converge", "POST", f"{prefix}/intake/mode", ro, {"mode": "pause"}),
                ("converge", "POST", f"{prefix}/intake/mode", cv, {"mode": "throttle"}),
                ("converge", "POST", f"{prefix}/flags/notifications", cv, {"enabled": True, "mode": "enforce"}),
                ("converge", "POST", f"{prefix}/flags/nope", cv, {"enabled": True})]
    out += [("converge", "GET", "/health/ready", {}, None), ("converge", "GET", "/metrics", {}, None)]
    p = "/api/admin/path-tracker"
    out += [("path_tracker", "GET", f"{p}/ops", pt, None), ("path_tracker", "GET", f"{p}/ops", {}, None),
            ("path_tracker", "GET", f"{p}/analytics?days=14", pt, None),
            ("path_tracker", "GET", f"{p}/analytics?days=0", pt, None),
            ("path_tracker", "GET", f"{p}/alerts?page=1&pageSize=20&status=failed", pt, None),
            ("path_tracker", "POST", f"{p}/alerts/retry-failed", pt, {"sinceMinutes": 60}),
            ("path_tracker", "PUT", f"{p}/rollout", pt, {"percent": 10}),
            ("path_tracker", "GET", "/metrics", pt, None)]
    out += [("data_pipeline", "GET", "/health/ready", {}, None), ("data_pipeline", "GET", "/metrics", {}, None),
            ("data_pipeline", "GET", "/api/v1/pipelines/executions?status=failed", dp, None),
            ("data_pipeline", "GET", "/api/v1/pipelines/executions?status=bogus", dp, None),
            ("data_pipeline", "POST", "/api/v1/pipelines/gcp_billing_export/retry", dp, None),
            ("data_pipeline", "POST", "/api/v1/pipelines/nope/retry", dp, None)]
    return out


async def _send(app, method, path, headers, body) -> tuple:
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as client:
        r = await client.request(method, path, headers=headers, content=content)
    return r.status_code, sorted(r.headers.multi_items()), r.content


async def test_every_route_answers_as_the_starlette_app_did_and_is_counted_alike():
    clock, creds, (plain, fast), (plain_apps, fast_apps) = _pair()
    for step, ahead in enumerate((0, 3, 3600)):
        clock.advance(ahead)
        for service, method, path, headers, body in _requests(creds):
            before = await _send(plain_apps[service], method, path, headers, body)
            after = await _send(fast_apps[service], method, path, headers, body)
            assert after == before, (step, service, method, path)
    assert fast.requests == plain.requests and sum(fast.requests.values()) > 100
    assert fast.mutations == plain.mutations and len(fast.mutations) > 10
    assert fast.test_events == plain.test_events == 6  # two accepted (a duplicate is accepted too) at each step


async def test_service_down_gate_answers_as_before():
    clock, creds, (plain, fast), (plain_apps, fast_apps) = _pair(seed=6)
    for fleet in (plain, fast):
        fleet.set_scenario("service-down")
    dp = {"x-api-key": creds.data_pipeline_key}
    for path in ("/health/ready", "/metrics", "/api/v1/pipelines/executions?status=failed"):
        before = await _send(plain_apps["data_pipeline"], "GET", path, dp, None)
        assert await _send(fast_apps["data_pipeline"], "GET", path, dp, None) == before
        assert before[0] == 503
    assert fast.requests == plain.requests


async def test_an_endpoint_that_raises_is_a_plain_500_and_the_error_reaches_the_server(monkeypatch):
    clock, creds, (plain, fast), (plain_apps, fast_apps) = _pair()
    for fleet in (plain, fast):
        monkeypatch.setattr(fleet.models["converge"], "review_summary", lambda now: 1 / 0)
    cv = {"x-api-key": creds.converge_key}
    answers = []
    for apps in (plain_apps, fast_apps):
        transport = httpx.ASGITransport(app=apps["converge"], raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as client:
            r = await client.get("/v1/reviews/summary", headers=cv)
        answers.append((r.status_code, sorted(r.headers.multi_items()), r.content))
        with pytest.raises(ZeroDivisionError):  # as ServerErrorMiddleware: raised on, for the server to log
            await _send(apps["converge"], "GET", "/v1/reviews/summary", cv, None)
    assert answers[0] == answers[1] and answers[0][0] == 500 and answers[0][2] == b"Internal Server Error"


# --- the connection: kept between polls -------------------------------------------------------------------------

async def test_a_connection_stays_open_between_polls_and_the_client_sees_its_answers():
    """Through the console's own poll client: one connection for many polls, as the services' 75 s keep-alive says."""
    from console.clock import WallClock
    from console.sources.client import Client

    fleet = Fleet(WallClock(), scenario="normal", seed=1)
    urls = await fleet.start(host="127.0.0.1")
    client = Client()
    try:
        for _ in range(5):
            r = await client.request("GET", urls["data_pipeline"] + "/health/ready")
            assert (r.status_code, r.json()) == (200, {"status": "ready"})
            r = await client.request("GET", urls["data_pipeline"] + "/metrics")
            assert r.status_code == 200 and b"metadata_log_queue_capacity 1000.0\n" in r.content
        assert client.connections_opened == 1
        assert fleet.requests[("data_pipeline", "/metrics")] == 5
    finally:
        await client.aclose()
        await fleet.stop()


async def test_an_answer_goes_out_in_one_write(monkeypatch):
    """Status line, headers and body in one send(): on loopback each send() costs the simulator the receiver's
    side of TCP as well. What arrives is the whole answer, as before."""
    import asyncio
    from asyncio.selector_events import _SelectorSocketTransport

    from console.clock import WallClock

    writes: list[bytes] = []
    real_write = _SelectorSocketTransport.write
    monkeypatch.setattr(_SelectorSocketTransport, "write", lambda self, data: writes.append(bytes(data)) or
                        real_write(self, data))
    fleet = Fleet(WallClock(), scenario="normal", seed=1)
    urls = await fleet.start(host="127.0.0.1")
    try:
        host, port = urls["data_pipeline"].removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(2):  # the same connection, kept alive
            writes.clear()
            writer.write(b"GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            fields = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:] if line)
            body = await reader.readexactly(int(fields[b"content-length"]))
            assert head.startswith(b"HTTP/1.1 200") and json.loads(body) == {"status": "ready"}
            answers = [w for w in writes if not w.startswith(b"GET ")]
            assert answers == [head + body]
        writer.close()
    finally:
        await fleet.stop()
