"""The Prometheus backend as a user meets it: panels and rules from a real Prometheus, auth and TLS,
and every bad input (down, slow, 4xx/5xx, a query Prometheus rejects, an empty result) said on screen.

One real Prometheus scrapes the simulator (wall clock) for the whole module; between it and the
console sits a small reverse proxy that can refuse, stall, break or demand credentials, as the
nginx or auth gateway in front of a production Prometheus would.
"""

from __future__ import annotations

from dataclasses import asdict

import asyncio
import datetime
import ipaddress
import json
import logging
import socket
import ssl
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import require_binary, screen_text
from test_prometheus_oracle import SCRAPED, LaggingClock, PrometheusServer

from console.metrics import panels
from console.clock import WallClock
from console.config.schema import ConfigError, parse_config
from console.config.writer import write_config
from console.demo import Demo, demo_config_dict
from console.engine import Engine
from widgets.header_bar import backend_text

in_module_loop = pytest.mark.asyncio(loop_scope="module")  # the fleet and Prometheus live for the module

pytestmark = pytest.mark.external  # a real prometheus / promtool / moto_server (skipped locally when missing)


class FaultProxy:
    """A reverse proxy in front of the real Prometheus: passes, refuses, stalls, breaks, or demands headers."""

    def __init__(self, upstream: str, tls: ssl.SSLContext | None = None) -> None:
        self.upstream = upstream
        self.mode = "pass"  # pass | slow | status
        self.status, self.body = 502, b"<html><body>502 Bad Gateway</body></html>"
        self.require: dict[str, str] = {}  # header → value the gateway insists on
        self.release = threading.Event()  # ends a stall early at teardown
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.httpd.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def reset(self) -> None:
        self.mode, self.require = "pass", {}
        self.status, self.body = 502, b"<html><body>502 Bad Gateway</body></html>"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                for name, value in proxy.require.items():
                    if self.headers.get(name) != value:
                        # a careless gateway that echoes what it was sent: the console must not repeat it
                        echo = json.dumps({k: v for k, v in self.headers.items()})
                        return self._send(401, f"unauthorized; you sent {echo}".encode(), "text/plain")
                if proxy.mode == "slow":
                    proxy.release.wait(proxy.delay)
                if proxy.mode == "status":
                    return self._send(proxy.status, proxy.body, "text/html")
                try:
                    with urllib.request.urlopen(proxy.upstream + self.path, timeout=5) as resp:
                        self._send(resp.status, resp.read(), resp.headers["Content-Type"])
                except urllib.error.HTTPError as e:
                    self._send(e.code, e.read(), e.headers["Content-Type"])

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the console gave up first (its timeout): that is the point of a stall

        return Handler


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A CA-flagged self-signed certificate for 127.0.0.1 (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opsconsole test prometheus")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=365 * 30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = workdir / "cert.pem", workdir / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Rig:
    def __init__(self, demo: Demo, raw: dict, server: PrometheusServer, proxy: FaultProxy, workdir: Path) -> None:
        self.demo, self.raw, self.server, self.proxy, self.workdir = demo, raw, server, proxy, workdir
        self.engines: list[Engine] = []

    async def engine(self, services: dict | None = None, clock=None, **prometheus) -> Engine:
        """A started console whose [prometheus] points at the proxy (overrides in `prometheus`)."""
        raw = {**self.raw, "prometheus": {"url": self.proxy.url, "timeout": "1s", "retry": "1s", **prometheus}}
        if services:
            raw["services"] = [{**s, **services.get(s["name"], {})} for s in raw["services"]]
        engine = Engine(parse_config(raw, "<test>"), clock or WallClock())
        await engine.start()
        self.engines.append(engine)
        return engine


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory):
    require_binary("prometheus")
    demo = Demo(WallClock(), scenario="normal", seed=5)
    cfg = await demo.start()
    workdir = tmp_path_factory.mktemp("prometheus-backend")
    server = PrometheusServer(workdir, cfg.services)
    server.start()
    proxy = None
    try:
        await server.wait_for("up == 1", len(SCRAPED))
        await server.wait_for("count_over_time(up[1m]) >= 3", len(SCRAPED))  # enough samples for a rate
        proxy = FaultProxy(server.url)
        yield Rig(demo, demo_config_dict(demo.urls, tick="1s"), server, proxy, workdir)
    finally:
        if proxy is not None:
            proxy.close()
        server.stop()
        await demo.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def r(rig):
    """The rig with the proxy passing again and every console of the test stopped afterwards."""
    rig.proxy.reset()
    yield rig
    rig.proxy.reset()
    for e in rig.engines:
        await e.stop()
    rig.engines.clear()


async def tick_until(engine: Engine, done, deadline: float = 15.0):
    """Tick (as `run` does, without its cadence) until `done(state)` holds or the deadline passes."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        state = await engine.tick()
        if done(state):
            return state
        assert loop.time() < end, f"not reached in {deadline}s: backend {state.backend}, " \
                                  f"errors {({n: s.error for n, s in state.services.items()})}"
        await asyncio.sleep(0.2)


# --- the backend working ------------------------------------------------------------------------

@in_module_loop
async def test_panels_and_rules_come_from_prometheus_and_json_still_direct(r):
    engine = await r.engine(clock=LaggingClock())  # asks about instants whose scrapes are all stored
    state = await tick_until(engine, lambda s: s.services["datapipe"].figures.get("req_rate")
                             and s.services["pulse"].figures.get("rate_1m"))
    assert state.backend.status == "ok" and state.backend.version.startswith("2.42")
    assert backend_text(state).startswith("[$success]◆ Prometheus[/] 2.42")
    figures = {n: s.figures for n, s in state.services.items()}
    assert figures["pulse"]["rate_1m"] > 0 and figures["path-tracker"]["percent"] == 35
    assert figures["converge"]["debt_band"] == "green"  # JSON endpoints are still polled directly
    assert len(figures["storytailor"]["switches"]) == 8
    for name, svc in state.services.items():  # /metrics is not scraped by the console: Prometheus does it
        assert "metrics" not in svc.endpoints, name
    # the value equals Prometheus's own answer at that instant (read here with urllib, not our client)
    theirs = r.server.query('sum(rate(http_requests_total{job="datapipe"}[5m]))', state.ts)
    assert figures["datapipe"]["req_rate"] == theirs[0][1]
    # Prometheus 2.42 cannot send storytailor's x-api-key: its panel says so, naming the query
    err = state.services["storytailor"].error
    assert err.startswith('prometheus: sent_1h: no series (Prometheus cannot scrape job="storytailor": up == 0)')
    assert "storytailor_emails_sent_total" in err
    for name in SCRAPED:
        assert state.services[name].error is None, state.services[name].error
    assert json.loads(json.dumps(state.to_json()))["metrics_backend"]["status"] == "ok"


@in_module_loop
async def test_plots_are_prometheus_query_range(r):
    engine = await r.engine()
    state = await tick_until(engine, lambda s: s.backend.status == "ok")
    expr = 'sum(rate(http_requests_total{job="datapipe"}[1m]))'
    # every scrape up to state.ts stored, so both reads below see the same samples
    await r.server.wait_for(f'timestamp(up{{job="datapipe"}}) > {state.ts}', 1, deadline=10)
    points = await engine.plot_range(expr, state.ts - 20, state.ts, 2.0)
    start = state.ts - state.ts % 2.0 - 18.0  # the local plots' grid: multiples of the step after the start
    theirs = r.server.api("/api/v1/query_range", query=expr, start=start, end=state.ts, step="2")["result"]
    assert points and points == [(float(t), float(v)) for t, v in theirs[0]["values"]]
    assert all(t % 2.0 == 0 for t, _ in points)


# --- bad input: the server ----------------------------------------------------------------------

@in_module_loop
async def test_unreachable_falls_back_to_direct_scraping_and_says_so(r):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    engine = await r.engine(url=dead)
    state = await engine.tick()
    assert state.backend.status == "fallback" and state.backend.error == "unreachable: connection refused"
    assert "LOCAL FALLBACK" in backend_text(state) and "connection refused" in backend_text(state)
    # the console scrapes /metrics itself now, and the local evaluator fills the panels
    state = await tick_until(engine, lambda s: s.services["datapipe"].figures.get("req_rate"))
    assert state.services["datapipe"].endpoints["metrics"].error is None
    assert state.services["storytailor"].figures["sent_1h"] is not None  # direct scraping sends x-api-key
    for svc in state.services.values():
        assert svc.error is None, svc.error


@in_module_loop
@pytest.mark.parametrize("status, body, error", [
    (502, b"<html><body>502 Bad Gateway</body></html>", "HTTP 502: <html><body>502 Bad Gateway</body></html>"),
    (404, b"", "HTTP 404: (empty body)"),  # a wrong path in the url
    (200, b"<html>Sign in</html>", "not a Prometheus API answer: Expecting value: line 1 column 1 (char 0)"),
])
async def test_bad_answers_fall_back_then_recover(r, status, body, error):
    r.proxy.mode, r.proxy.status, r.proxy.body = "status", status, body
    engine = await r.engine()
    state = await tick_until(engine, lambda s: s.backend.status == "fallback")
    assert state.backend.error == error
    await tick_until(engine, lambda s: s.services["pulse"].figures.get("rate_1m") is not None)
    r.proxy.mode = "pass"
    state = await tick_until(engine, lambda s: s.backend.status == "ok")
    assert not engine.backend.scraping  # back to Prometheus: the console stops scraping /metrics
    assert state.backend.error is None and backend_text(state).startswith("[$success]◆ Prometheus")
    assert state.services["pulse"].figures["rate_1m"] > 0


@in_module_loop
@pytest.mark.parametrize("first", ["ok", "connecting"])
async def test_slow_server_times_out_without_blocking_the_event_loop(r, first):
    """Slow from the start (the probe times out) or turning slow mid-run (60 queries in flight): the tick
    takes about one timeout, not one per query, and the event loop keeps running meanwhile."""
    engine = await r.engine(timeout="300ms")
    if first == "ok":
        await tick_until(engine, lambda s: s.backend.status == "ok")
    r.proxy.mode, r.proxy.delay = "slow", 5.0
    beats = 0

    async def heartbeat():
        nonlocal beats
        while True:
            await asyncio.sleep(0.02)
            beats += 1

    hb = asyncio.create_task(heartbeat())
    loop = asyncio.get_running_loop()
    started = loop.time()
    state = await engine.tick()
    took = loop.time() - started
    hb.cancel()
    assert state.backend.status == "fallback" and state.backend.error == "timeout after 0.3s"
    assert 0.3 <= took < 2.0  # the first timeout stops the queries queued behind it
    assert beats >= 8  # the loop kept running while the queries waited in their threads


@in_module_loop
async def test_no_fallback_says_unreachable_on_every_panel(r):
    r.proxy.mode, r.proxy.status, r.proxy.body = "status", 503, b""
    engine = await r.engine(fallback=False)
    state = await tick_until(engine, lambda s: s.services["converge"].figures.get("debt_score"))
    assert state.backend.status == "down" and state.backend.error == "HTTP 503: (empty body)"
    assert "(no fallback)" in backend_text(state)
    for name, svc in state.services.items():
        assert svc.error == "prometheus: unreachable: HTTP 503: (empty body)", name
        assert "metrics" not in svc.endpoints  # no direct scraping without fallback
    assert state.services["datapipe"].figures["req_rate"] is None  # unknown, never a guess
    assert state.services["converge"].figures["debt_score"] is not None  # JSON keeps its own source


# --- bad input: one query ------------------------------------------------------------------------

@in_module_loop
async def test_query_prometheus_rejects_is_named_on_its_panel(r, monkeypatch):
    # unit-less durations are PromQL 3.x; the local evaluator takes them, Prometheus 2.42 does not
    monkeypatch.setitem(panels.EXPRS["converge"], "intents_rate_5m",
                        'sum(rate(converge_intents_processed_total{job="$job"}[300]))')
    rule = {"name": "DuplicateMatch", "service": "conversion", "severity": "P4",
            "expr": 'pulse_conversion_events_total{job="$job"} / on (job) pulse_conversion_events_total{job="$job"}'}
    r.raw["rules"] = [rule]
    try:
        engine = await r.engine()
    finally:
        del r.raw["rules"]
    state = await tick_until(engine, lambda s: s.backend.status == "ok" and s.services["converge"].error)
    err = state.services["converge"].error
    assert err.startswith("prometheus: intents_rate_5m: HTTP 400 bad_data: ")
    assert err.endswith("— sum(rate(converge_intents_processed_total{job=\"converge\"}[300]))")
    assert state.services["converge"].figures["debt_score"] is not None
    # a rule's query Prometheus cannot run shows on its service's panel, whose figures keep coming
    assert state.services["pulse"].error.startswith("prometheus: rule DuplicateMatch: HTTP 422 execution: ")
    assert state.services["pulse"].figures["rate_1m"] > 0
    assert state.services["datapipe"].error is None
    bad = next(x for x in state.rules if x.name == "DuplicateMatch")
    assert bad.state == "error" and bad.error.startswith("QueryError: HTTP 422 execution: ")
    assert "duplicate series" in bad.error
    assert state.backend.status == "ok"  # one bad query is not a bad server


@in_module_loop
async def test_empty_result_where_a_series_was_expected(r):
    engine = await r.engine(services={"datapipe": {"job": "convergence-data-pipeline"}})
    state = await tick_until(engine, lambda s: s.backend.status == "ok" and s.services["datapipe"].error)
    assert state.services["datapipe"].error == (
        'prometheus: error_ratio_5m: no series (Prometheus has no target with job="convergence-data-pipeline") — '
        '(sum(rate(http_requests_total{job="convergence-data-pipeline", status_code=~"5.."}[5m])) or vector(0)) '
        '/ sum(rate(http_requests_total{job="convergence-data-pipeline"}[5m]))')
    assert state.services["datapipe"].figures["ready"] is True  # its JSON endpoints keep working
    assert state.services["pulse"].error is None


# --- auth and TLS ---------------------------------------------------------------------------------

@in_module_loop
async def test_basic_auth_and_custom_header_from_env_and_secrets_never_shown(r, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPSC_TEST_PROM_PASSWORD", "s3cret-pw-81")
    monkeypatch.setenv("OPSC_TEST_TENANT", "tenant-secret-7")
    import base64

    r.proxy.require = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret-pw-81").decode(),
                       "X-Scope-OrgID": "tenant-secret-7"}
    auth = {"type": "basic", "username": "ops", "password_env": "OPSC_TEST_PROM_PASSWORD"}
    engine = await r.engine(auth=auth, header_envs={"X-Scope-OrgID": "OPSC_TEST_TENANT"})
    state = await tick_until(engine, lambda s: s.services["datapipe"].figures.get("req_rate"))
    assert state.backend.status == "ok"
    monkeypatch.setenv("OPSC_TEST_PROM_PASSWORD", "wrong-pw-99")  # rotated on one side only
    state = await tick_until(engine, lambda s: s.backend.status == "fallback")
    assert state.backend.error == "HTTP 401 unauthorized (basic auth as ops)"
    # the recorder and the audit log scrub cfg.secret_values(): the Prometheus secrets are among them
    assert {"wrong-pw-99", "tenant-secret-7"} <= set(engine.cfg.secret_values())
    shown = json.dumps(state.to_json()) + backend_text(state) + caplog.text
    for secret in ("s3cret-pw-81", "wrong-pw-99", "tenant-secret-7", base64.b64encode(b"ops:wrong-pw-99").decode()):
        assert secret not in shown


@in_module_loop
async def test_bearer_token_missing_env_and_leaky_error_body(r, monkeypatch):
    monkeypatch.setenv("OPSC_TEST_PROM_TOKEN", "tok-right-42")
    r.proxy.require = {"Authorization": "Bearer tok-right-42"}
    engine = await r.engine(auth={"type": "bearer", "token_env": "OPSC_TEST_PROM_TOKEN"})
    assert (await tick_until(engine, lambda s: s.backend.status == "ok")).backend.error is None
    r.proxy.require = {"Authorization": "Bearer other"}  # the gateway's token changed: 401, and it echoes ours
    client = engine.backend.client
    with pytest.raises(Exception) as info:
        client.instant("vector(1)", WallClock().now())
    assert str(info.value) == "HTTP 401 unauthorized (bearer token from OPSC_TEST_PROM_TOKEN)"
    r.proxy.require = {"X-Other": "x"}  # a gateway answering a non-auth 401 with our header in its body
    with pytest.raises(Exception) as info:
        client.instant("vector(1)", WallClock().now())
    assert "tok-right-42" not in str(info.value)
    monkeypatch.delenv("OPSC_TEST_PROM_TOKEN")
    with pytest.raises(Exception) as info:
        client.instant("vector(1)", WallClock().now())
    assert str(info.value) == "auth: environment variable OPSC_TEST_PROM_TOKEN is not set"


@in_module_loop
async def test_tls_verified_by_default_with_a_ca_bundle_or_explicitly_off(r):
    cert, key = self_signed(r.workdir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tls = FaultProxy(r.server.url, tls=ctx)
    try:
        engine = await r.engine(url=tls.url)
        state = await engine.tick()
        assert state.backend.status == "fallback"
        assert state.backend.error.startswith("TLS: certificate verify failed: self")
        trusted = await r.engine(url=tls.url, ca_bundle=str(cert))
        assert (await tick_until(trusted, lambda s: s.backend.status == "ok")).backend.version.startswith("2.42")
        unverified = await r.engine(url=tls.url, tls_verify=False)
        assert (await tick_until(unverified, lambda s: s.backend.status == "ok")).backend.error is None
    finally:
        tls.close()


def test_prometheus_config_errors_are_one_line():
    base = {"services": [{"name": "a", "kind": "scrape", "url": "http://127.0.0.1:1"}]}
    cases = {
        "prometheus: url must start with http:// or https://, got 'localhost:9090'": {"url": "localhost:9090"},
        "prometheus: url must not hold credentials: use auth (password_env, token_env)":
            {"url": "https://ops:pw@prom.example:9090"},
        "prometheus.token: unknown key": {"url": "http://p:9090", "token": "abc"},
        "prometheus.auth: auth type 'bearer' needs token_env": {"url": "http://p:9090", "auth": {"type": "bearer"}},
        "prometheus.timeout: not a duration: 'soon' (use e.g. 30s, 5m, 1h)":
            {"url": "http://p:9090", "timeout": "soon"},
    }
    for message, table in cases.items():
        with pytest.raises(ConfigError) as info:
            parse_config({**base, "prometheus": table}, "c.toml")
        assert str(info.value) == "c.toml: " + message
    cfg = parse_config({**base, "prometheus": {"url": "http://p:9090"}}, "c.toml")
    assert cfg.prometheus.tls_verify is True and cfg.prometheus.fallback is True and cfg.prometheus.timeout == 2.0


# --- on screen ------------------------------------------------------------------------------------

@in_module_loop
async def test_dashboard_shows_the_backend_and_the_failing_query(r, tmp_path):
    from screens.app import OpsApp
    from console.session import Session

    raw = {**r.raw, "prometheus": {"url": r.proxy.url, "timeout": "1s", "retry": "1s"}}
    raw["services"] = [{**s, "job": "dp-typo"} if s["name"] == "datapipe" else s for s in raw["services"]]
    path = tmp_path / "console.toml"
    write_config(str(path), raw)
    app = OpsApp(Session(config_path=str(path)))

    def text(selector: str) -> str:
        """What a widget shows on screen, as plain text (its rows, cut to its box)."""
        box = app.screen.query_one(selector).region
        rows = screen_text(app).split("\n")[box.y:box.bottom]
        return " | ".join(row[box.x:box.right].strip() for row in rows)

    async with app.run_test(size=(160, 48)) as pilot:
        async def until(check, deadline=15.0):
            end = asyncio.get_running_loop().time() + deadline
            while not check():
                assert asyncio.get_running_loop().time() < end, (text("HeaderBar"), text("#strip"))
                await pilot.pause(0.2)

        await until(lambda: "◆ Prometheus 2.42" in text("HeaderBar"))
        await until(lambda: "no series" in text("#strip"))
        strip = text("#strip")
        assert "✖ error: prometheus: error_ratio_5m: no series (Prometheus has no target with" in strip
        r.proxy.mode = "status"
        await until(lambda: "▲ LOCAL FALLBACK since " in text("HeaderBar") and "Prometheus HTTP 502" in text("HeaderBar"))
        r.proxy.mode = "pass"
        await until(lambda: "◆ Prometheus" in text("HeaderBar"))


# --- recorded: a replay shows the server's answers as they were shown live ----------------------

@in_module_loop
async def test_a_recording_replays_the_servers_answers(r, tmp_path):
    from console.events import StatePublished
    from console.recording.replay import Replay
    from console.recording.writer import Recorder

    def shown(state) -> dict:
        doc = json.loads(json.dumps(state.to_json(), default=str))
        return {k: v for k, v in doc.items() if k not in ("mode", "metrics_backend")}

    engine = await r.engine(clock=LaggingClock())
    await tick_until(engine, lambda s: s.services["datapipe"].figures.get("req_rate")
                     and s.services["pulse"].figures.get("rate_1m"))
    rec = await Recorder(engine, tmp_path / "prom.opsrec").start()
    engine.reset()  # live and the recording start from the same point (nothing polled before it is shown)
    live: dict[float, dict] = {}
    engine.hub.subscribe(StatePublished, lambda ev: live.__setitem__(ev.state.ts, shown(ev.state)))
    while not live or max(live) - min(live) < 6:
        await engine.tick()
        await asyncio.sleep(0.25)
    await rec.stop()
    ticks = sorted(live)
    assert any(live[t]["services"]["datapipe"]["figures"].get("req_rate") for t in ticks)

    replay = Replay(str(tmp_path / "prom.opsrec"))
    try:
        for ts in ticks:
            replay.advance(ts)
            assert shown(replay.state) == live[ts], f"tick {ticks.index(ts)}"
        state = replay.state
        assert state.backend.status == "recorded" and state.backend.version.startswith("2.42")
        assert "its recorded answers" in backend_text(state)  # said on screen: the figures came from the server
        assert state.services["storytailor"].error.startswith("prometheus: sent_1h: no series")  # as live
        replay.seek(ticks[1])  # a seek puts the answers in force then
        assert shown(replay.state) == live[ticks[1]]
        engine = replay.ensure_engine()  # and through the engine (what plots read): the same, said the same way
        assert shown(engine.state) == live[ticks[1]]
        assert asdict(engine.state.backend) == asdict(replay.state.backend)
    finally:
        replay.close()
