"""Simulated convergence data pipeline (runbook 004): API traffic, latency, metadata log queue, auth, executions."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from starlette.responses import JSONResponse

from console.clock import utc_iso

from . import metrics as m
from .base import Model, binomial, bucket_weights, poisson, split
from .http import Api, ApiError, Context, Guard, require_object

ENDPOINTS = (("POST", "/api/v1/pipelines/run"), ("GET", "/api/v1/pipelines/executions"),
             ("GET", "/api/v1/tenants/usage"), ("GET", "/health/ready"))
ENDPOINT_WEIGHTS = (0.25, 0.35, 0.30, 0.10)
PIPELINE_IDS = ("gcp_billing_export", "aws_cur_ingest", "azure_cost_sync", "openai_usage", "cost_rollup_daily")
TENANTS = ("acme", "globex", "initech", "umbrella")
REQUESTS_PER_S = 20.0
SERVER_ERROR = {"normal": 0.005, "error-spike": 0.12}
LATENCY = {"normal": (0.08, 0.55), "latency": (0.6, 0.5)}  # log-normal median (s), shape: p95 ≈ 0.2 s / 1.4 s
MIDPOINTS = (0.03, 0.075, 0.17, 0.37, 0.72, 1.6, 3.5, 7.5)  # a typical duration inside each bucket
WEIGHTS = {k: bucket_weights(m.DURATION_BUCKETS, *v) for k, v in LATENCY.items()}
QUEUE_CAPACITY = 1000
AUTH_NOISE = (("acme", "10.2.3.4"), ("globex", "198.51.100.7"), ("unknown", "192.0.2.10"))
ATTACKER = ("acme", "203.0.113.66")
EXECUTIONS_PER_S = 0.1
FAILURE = 0.01  # ~4 failed an hour: a few in the listing (the last 500 runs)
ERRORS = (("BigQuery quotaExceeded: exceeded rate limits", "quotaExceeded"),
          ("Access Denied: dataset acme_billing: permission bigquery.tables.getData denied", "accessDenied"),
          ("Source API timeout after 300s", None), ("SQL syntax error at [12:5]", "invalidQuery"))
STATUSES = ("running", "completed", "failed", "retrying")
RETRY_TAKES = 30.0


class DataPipelineModel(Model):
    name = "data_pipeline"

    def __init__(self, clock, timeline, seed) -> None:
        super().__init__(clock, timeline, seed)
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.latency_counts = [0] * (len(m.DURATION_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.queue_size, self.flushes, self.cpu = 150.0, 0, 0.0
        self.rate_limited = Counter(dict.fromkeys(TENANTS, 0))
        self.auth_failures = Counter(dict.fromkeys(AUTH_NOISE, 0))
        self.runs = Counter({(p, s): 0 for p in PIPELINE_IDS for s in ("completed", "failed")})
        self.bigquery_errors = Counter({(r,): 0 for _, r in ERRORS if r})
        self.executions: deque[dict] = deque(maxlen=500)  # oldest first
        self.retrying: list[tuple[float, dict]] = []
        self.exec_seq = 0
        for i, t in enumerate(sorted(self.started - self.rng.uniform(60, 7200) for _ in range(30))):
            self.execute(t, failed=i in (7, 18, 26))  # recent history from before the start: a few failures

    def step(self, t: float, scenario: str, since: float) -> None:
        load = self.load(t)
        rate = REQUESTS_PER_S * load
        if scenario == "service-down":
            n = poisson(self.rng, rate)
            for (method, endpoint), k in zip(ENDPOINTS, split(self.rng, n, ENDPOINT_WEIGHTS)):
                self.requests[(method, endpoint, "503")] += k
            return
        n = 0  # a Poisson total split over buckets is a Poisson per bucket: cheaper than a split
        for i, w in enumerate(WEIGHTS.get(scenario, WEIGHTS["normal"])):
            k = poisson(self.rng, rate * w)
            self.latency_counts[i] += k
            self.latency_sum += k * MIDPOINTS[i]
            n += k
        self.traffic(n, SERVER_ERROR.get(scenario, SERVER_ERROR["normal"]))
        self.auth(scenario == "brute-force")
        self.metadata_queue(t, load, stalled=scenario == "queue-full")
        self.cpu += max(0.0, 0.2 * load + 0.02 * self.rng.gauss(0, 1))
        if self.rng.random() < EXECUTIONS_PER_S:
            self.execute(t, failed=self.rng.random() < FAILURE)
        while self.retrying and self.retrying[0][0] <= t:
            _, run = self.retrying.pop(0)
            run.update(status="completed", error=None)
            self.runs[(run["pipeline_id"], "completed")] += 1

    def traffic(self, n: int, server_error: float) -> None:
        for (method, endpoint), k in zip(ENDPOINTS, split(self.rng, n, ENDPOINT_WEIGHTS)):
            errors = binomial(self.rng, k, server_error)
            bad = binomial(self.rng, k - errors, 0.01)
            limited = binomial(self.rng, k - errors - bad, 0.002)
            ok = "201" if method == "POST" else "200"
            for code, c in ((ok, k - errors - bad - limited), ("500", errors), ("400", bad), ("429", limited)):
                if c:
                    self.requests[(method, endpoint, code)] += c
            for _ in range(limited):
                self.rate_limited[self.rng.choice(TENANTS)] += 1

    def auth(self, attacked: bool) -> None:
        failures = Counter()
        if self.rng.random() < 0.01:  # stray wrong keys: about 36 an hour
            failures[self.rng.choice(AUTH_NOISE)] += 1
        if attacked:
            failures[ATTACKER] += poisson(self.rng, 8.0)
        self.auth_failures.update(failures)
        if failures:
            self.requests[("GET", "/api/v1/pipelines/executions", "401")] += sum(failures.values())

    def metadata_queue(self, t: float, load: float, stalled: bool) -> None:
        """Mean-reverting around ~15 % full; when flushes stall (BigQuery quota), it fills ~6 entries/s."""
        if stalled:
            self.queue_size += 6.0 + 2.0 * self.rng.gauss(0, 1)
            self.bigquery_errors[("quotaExceeded",)] += poisson(self.rng, 0.5)
        else:
            self.queue_size += 0.05 * (150.0 * load - self.queue_size) + 4.0 * self.rng.gauss(0, 1)
            self.flushes += int(t) % 5 == 0
        self.queue_size = min(float(QUEUE_CAPACITY), max(0.0, self.queue_size))

    def execute(self, t: float, failed: bool) -> None:
        self.exec_seq += 1
        pipeline = self.rng.choice(PIPELINE_IDS)
        error, reason = self.rng.choice(ERRORS) if failed else (None, None)
        self.executions.append({"id": f"exec_{self.exec_seq:06d}", "pipeline_id": pipeline,
                                "tenant_id": self.rng.choice(TENANTS), "status": "failed" if failed else "completed",
                                "error": error, "started_at": utc_iso(t)})
        if t > self.started:  # counters start with the process
            self.runs[(pipeline, "failed" if failed else "completed")] += 1
            if reason:
                self.bigquery_errors[(reason,)] += 1

    def retry(self, target: str, now: float) -> int:
        """Retry the failed executions of a pipeline id (or one execution by its id)."""
        chosen = [e for e in self.executions if e["status"] == "failed" and target in (e["pipeline_id"], e["id"])]
        for run in chosen:
            run["status"] = "retrying"
            self.retrying.append((now + RETRY_TAKES, run))
        self.retrying.sort(key=lambda item: item[0])
        return len(chosen)

    def listing(self, status: str | None) -> dict:
        runs = [dict(e) for e in reversed(self.executions) if status is None or e["status"] == status]
        return {"executions": runs[:100]}

    def families(self):
        yield m.counter("http_requests_total", "HTTP requests", ("method", "endpoint", "status_code"), self.requests)
        yield m.histogram("http_request_duration_seconds", "HTTP request duration", m.DURATION_BUCKETS,
                          self.latency_counts, self.latency_sum)
        yield m.gauge("metadata_log_queue_size", "Entries waiting in the metadata log queue", (),
                      {(): round(self.queue_size)})
        yield m.gauge("metadata_log_queue_capacity", "Metadata log queue capacity", (), {(): QUEUE_CAPACITY})
        yield m.counter("metadata_log_flush_total", "Metadata log flushes to BigQuery", (), {(): self.flushes})
        yield m.counter("rate_limit_hits_total", "Requests refused by the rate limit", ("tenant_id",),
                        m.keyed(self.rate_limited))
        yield m.counter("auth_failures_total", "Failed API key authentications", ("tenant_id", "source_ip"),
                        self.auth_failures)
        yield m.counter("pipeline_executions_total", "Pipeline executions", ("pipeline", "status"), self.runs)
        yield m.counter("bigquery_errors_total", "BigQuery errors", ("reason",), self.bigquery_errors)
        yield m.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds", (),
                        {(): round(self.cpu, 3)})


def build(ctx: Context) -> tuple[DataPipelineModel, Api]:
    model = DataPipelineModel(ctx.clock, ctx.timeline, ctx.seed)

    def gate(path: str) -> JSONResponse | None:
        """service-down: nothing answers but 503 (health says why)."""
        if ctx.timeline.at(ctx.clock.now())[0] != "service-down":
            return None
        if path == "/health/ready":
            return JSONResponse({"status": "not_ready", "reason": "database connection pool exhausted"}, 503)
        return JSONResponse({"error": "service unavailable"}, 503)

    api = Api("data_pipeline", ctx, model, Guard("header", {ctx.credentials.data_pipeline_key: "operator"}), gate)
    api.route("/health/ready", lambda r, b: {"status": "ready"}, open=True)
    api.route("/api/v1/pipelines/executions", lambda r, b: model.listing(status_param(r)))
    api.route("/api/v1/pipelines/{pipeline_id}/retry", lambda r, b: retry(model, r.path_params["pipeline_id"], b, ctx),
              "POST", record="mutation")
    api.metrics(model.families, open=True)
    return model, api


def status_param(request) -> str | None:
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}")
    return status


def retry(model: DataPipelineModel, target: str, body: Any, ctx: Context) -> tuple[int, dict]:
    if body is not None:
        require_object(body)
    known = target in PIPELINE_IDS or any(e["id"] == target for e in model.executions)
    if not known:
        raise ApiError(404, f"unknown pipeline or execution {target!r}")
    return 202, {"retried": model.retry(target, ctx.clock.now())}
