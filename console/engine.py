"""The hub: polls sources (or takes replayed observations), feeds the store, evaluates rules, publishes state."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Callable

from . import promql
from console.catalog import Catalog, build_catalog
from console.metrics.store import STALE_NAN, SeriesStore
from .clock import Clock
from console.config.schema import Config
from .events import Hub, StatePublished, Tick
from console.mitigations.records import RecentActions
from console.incidents.store import IncidentStore, default_path
from console.incidents.manager import IncidentManager
from .memento import Memento
from .model import Observation
from console.metrics.panels import Figures, exprs_for, panel_exprs
from console.metrics.resets import ResetWatch, is_counter
from . import tasks
from .paths import data_dir
from .safe_text import admit, clean
from .sources.transport import config_scrubber, missing_secrets
from console.incidents.playbooks import exprs_for as playbook_exprs
from console.metrics.retention import needs
from console.rules.lifecycle import RuleEvaluator
from console.rules.load import alert_context
from console.rules.thresholds import markers
from console.rules.transitions import RuleTransitions
from .sources import Reading, build_source, read
from .sources.client import default_tls, poll_client
from .state import ConsoleState, EndpointState, ServiceState

if TYPE_CHECKING:  # made on the first silence or alert sent (Engine.http), not at start: ~5 MiB of imports
    import httpx

log = logging.getLogger(__name__)

TITLES = {"conversion": "Conversion", "pipelines": "Pipelines", "converge": "Converge",
          "path_tracker": "Path tracker", "data_pipeline": "Data pipeline", "scrape": "Scrape",
          "alertmanager": "Alertmanager"}
HOLD_S = 0.005  # the longest the tick's ingest and evaluation hold the event loop before letting it run
TREND_STEP = 60.0  # the debt trend is a 1 h chart at 1 min resolution: it changes once a minute


class Engine:
    """One pipeline, live or replayed: every Observation goes through `ingest`.

    It announces on `hub` (its own unless one is given): Tick when an evaluation begins, RuleTransition for
    each alert that moved, StatePublished when the evaluation is complete; the incident manager it owns
    adds IncidentChanged, an executor MitigationAudited and MitigationChanged.
    """

    def __init__(self, cfg: Config, clock: Clock, *, mode: str = "live", scenario: str | None = None,
                 persist_incidents: bool | None = None, hub: Hub | None = None,
                 catalog: Catalog | None = None, incidents: IncidentManager | None = None) -> None:
        self.cfg = cfg
        self.clock = clock
        self.mode = mode
        self.hub = hub or Hub()
        # a subscriber that raises is reported in the header and the log, and does not starve the others
        self.hub.on_error = lambda where, e: self._failed("listener", e)
        self.scrub = config_scrubber(cfg)  # every configured secret, re-read from the environment each tick
        catalog = catalog or build_catalog(cfg)  # the Session passes the one it loaded
        self.rules = list(catalog.rules)
        exprs = [r.expr for r in self.rules]
        for s in cfg.services:
            exprs += exprs_for(s.kind, s.job or s.name)
        exprs += catalog.evidence  # mitigations are verified by PromQL too: keep the series they read
        # the incident detail's live values (rules from rule files may belong to no configured service)
        exprs += playbook_exprs([r for r in self.rules if r.service], lambda svc: cfg.service(svc).job or svc)
        keep, retention = needs(exprs)
        self.store = SeriesStore(retention=retention, keep=lambda n: keep(n) or n.startswith("opsconsole_"))
        self.evaluator = RuleEvaluator(self.rules, alert_context(cfg), record=self.store.add_many)
        self.transitions = RuleTransitions()
        self.figures = Figures({s.name: markers(self.rules, s.name, s.kind) for s in cfg.services})
        self.actions = RecentActions()  # an executor adds to it; a replay restores it
        self._memo = promql.TickMemo()  # rules and panels share their subexpressions within a tick
        self._tick_exprs = list(dict.fromkeys(
            [r.expr for r in self.rules] + [e for s in cfg.services for e in panel_exprs(s.kind, s.job or s.name)]))
        self.state = ConsoleState(ts=clock.now(), environment=cfg.environment, read_only=cfg.read_only,
                                  mode=mode, scenario=scenario, actions=self.actions.items)
        for s in cfg.services:
            self.state.services[s.name] = ServiceState(s.name, s.kind, s.title or f"{TITLES[s.kind]} ({s.name})")
        self.observers: list[Callable[[Observation], None]] = []  # e.g. the recorder
        # Incidents from rule events, Alertmanager and path-tracker deliveries; persisted only when live on
        # real services: the demo's simulator starts fresh each run, so its incidents start fresh too.
        # (the Session builds its own and passes it; a replay or a test gets one here)
        if incidents is None:
            persist = (mode == "live" and scenario is None) if persist_incidents is None else persist_incidents
            store = IncidentStore(default_path(cfg.data_dir), cfg.environment) if persist else None
            incidents = IncidentManager(self.hub, clock, cfg, self.rules, http=lambda: self.http,
                                        expedite=self.expedite, read_only=cfg.read_only or mode == "replay",
                                        store=store)
        self.incidents = incidents
        self._client: httpx.AsyncClient | None = None
        self._http_open = False  # between start and stop
        self._poll_clients: dict = {}  # service name → its poll client (console/sources/client.py)
        self._sources: list = []
        self._last_series: dict[tuple[str, str], set[tuple]] = {}  # (source, endpoint) → series keys
        self._resets: dict[tuple[str, str], ResetWatch] = {}  # counters going backwards, per scrape target
        self._inflight: dict[object, asyncio.Task] = {}  # source → its poll still waiting on a slow service
        self._trend_at = 0.0
        # [prometheus]: rules and panel figures are the server's instant queries (live only: a replay
        # re-evaluates its recording locally); /metrics is then scraped only while it is unreachable.
        self.backend = None
        self._scrapers: list = []
        if cfg.prometheus is not None and mode == "live":
            from console.backends import RemoteMetrics

            self.backend = RemoteMetrics(cfg, self.store, self.rules)
            self.state.backend = self.backend.state

    # --- live polling -------------------------------------------------------------------

    async def start(self) -> None:
        self._http_open = True  # the pooled client is made on first use (`http`)
        # Each service polled through a small pool of its own: httpcore assigns queued requests by
        # scanning every connection of a pool, so one shared pool for a hundred services costs
        # requests x connections per request (most of a tick at 50 services), and its keep-alive
        # limit made most polls open a new connection. One TLS context for all: building one loads the
        # CA bundle (~30 ms), which 200 times over held start-up for 6 s.
        tls: list = []  # built when the first https service asks (plain-HTTP fleets never load the CA bundle)

        def shared_tls():
            if not tls:
                tls.append(default_tls())
            return tls[0]

        self._poll_clients = {s.name: poll_client(s.url, shared_tls) for s in self.cfg.services}
        self._sources = [build_source(s, self._poll_clients[s.name], self.clock) for s in self.cfg.services]
        tasks.install_log(data_dir(self.cfg.data_dir), self.scrub)
        for line in missing_secrets(self.cfg):
            log.warning(line)  # once, at start; only that service's requests fail, each saying why
        await self.incidents.start()
        if self.backend is not None:
            self._split_scrapers()

    def _split_scrapers(self) -> None:
        """With a Prometheus backend the JSON endpoints keep their sources; /metrics gets its own, idle ones."""
        from .sources import Source

        json_sources, self._scrapers = [], []
        for src in self._sources:
            metrics = [e for e in src.endpoints if e.format == "metrics"]
            if not metrics:
                json_sources.append(src)
                continue
            self._scrapers.append(Source(src.service, src.client, self.clock, metrics))
            rest = [e for e in src.endpoints if e.format != "metrics"]
            if rest:
                json_sources.append(Source(src.service, src.client, self.clock, rest))
        self._sources = json_sources

    def _polling(self) -> list:
        return self._sources + (self._scrapers if self.backend is not None and self.backend.scraping else [])

    @property
    def http(self) -> httpx.AsyncClient | None:
        """The pooled client, for requests other parts send (Alertmanager silences); None unless started."""
        if self._client is None and self._http_open:
            import httpx  # here, on the first silence or alert sent: the demo never sends one (~5 MiB of imports)

            limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
            self._client = httpx.AsyncClient(limits=limits, follow_redirects=False)
        return self._client

    async def stop(self) -> None:
        for task in self._inflight.values():
            task.cancel()
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        self._inflight.clear()
        await self.incidents.stop()
        if self.backend is not None:
            await self.backend.close()
        self._http_open = False
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        clients, self._poll_clients = self._poll_clients, {}
        for client in clients.values():
            await client.aclose()

    async def tick(self) -> ConsoleState:
        """Poll every due endpoint (concurrently), ingest what came back, evaluate, publish."""
        now = self.clock.now()
        self.scrub.refresh()
        mark = self.clock.monotonic()
        for obs in await self._answered(now):
            self._ingest_guarded(obs)
            mark = await self._pause(mark)  # a hundred services' scrapes in a row would otherwise hold the loop
        at = self.clock.now()
        if self.backend is not None:
            scraping = self.backend.scraping
            await self.backend.prepare(at)  # the server's answers, fetched in threads
            if self.backend.scraping and not scraping:
                for src in self._scrapers:
                    src.expedite()  # fallback: scrape /metrics from the next tick on
        else:
            await self._prewarm(at)
        return self.evaluate(at)

    async def _answered(self, now: float) -> list[Observation]:
        """Start the due polls of every source that is not still waiting; return what has answered.

        On the wall clock a tick waits for them at most half a tick: a source still waiting on a slow
        service (up to its deadline) is left running, its answer ingested by a later tick, so one slow
        service never holds the other panels. On a virtual clock (tests, virtual-time snapshots) a tick
        waits for every poll it started, so such runs are exact."""
        for src in self._polling():
            if src not in self._inflight:
                self._inflight[src] = asyncio.create_task(src.poll_due(now, self._early()), name=f"poll {src.name}")
        pending = set(self._inflight.values())
        if pending:
            await asyncio.wait(pending, timeout=None if self.clock.exact else self.cfg.tick / 2)
        out: list[Observation] = []
        for src, task in list(self._inflight.items()):
            if task.done():
                del self._inflight[src]
                if task.exception() is not None:  # poll_due answers errors as observations: this is a bug
                    self._failed(f"poll {src.name}", task.exception())
                else:
                    out += task.result()
        return out

    async def _prewarm(self, at: float) -> None:
        """Compute the tick's rule and panel expressions into the memo one at a time, yielding in between,
        so `evaluate` (synchronous) finds them done instead of holding the loop for all of them."""
        mark = self.clock.monotonic()
        for expr in self._tick_exprs:
            try:
                self.query(expr, at)
            except Exception:  # evaluate() reports it where it belongs (the rule's or the panel's error)
                pass
            mark = await self._pause(mark)

    async def _pause(self, mark: float) -> float:
        """Let the loop run (keys, paints) once the tick's own work has held it `HOLD_S` since `mark`; in virtual
        time after every step, as ever. A turn of the loop per expression and per observation (~70 a tick on the
        demo) cost more than the evaluation between them needed; a key still waits at most `HOLD_S`."""
        if self.clock.exact or self.clock.monotonic() - mark >= HOLD_S:
            await asyncio.sleep(0)
            return self.clock.monotonic()
        return mark

    async def run(self) -> None:
        """Tick forever at the configured cadence; a tick never overlaps the next, and one that fails is seen.

        On the wall clock the ticks keep one beat (a tick's start plus `tick`): an endpoint due a little after a
        beat is polled at it (`early`), so endpoints whose schedules drifted apart never add a tick of their own
        between two beats (measured: one extra evaluation and repaint every few seconds, at times every second).
        Only what is due well before the next beat (a backed-off retry) wakes the engine sooner."""
        while True:
            start = self.clock.now()
            try:
                await self.tick()
            except Exception as e:  # noqa: BLE001 - the engine keeps ticking; the header shows what broke
                self._failed("tick", e)
                self.publish()
            now = self.clock.now()
            due = min([s.next_due() for s in self._polling()] + [now + self.cfg.tick])
            if self.clock.exact:  # virtual time: exactly when due, as ever
                await self.clock.sleep(max(0.05, min(due, now + self.cfg.tick) - now))
                continue
            beat = start + self.cfg.tick
            await self.clock.sleep(max(0.05, (due if due < beat - self._early() else beat) - now))

    def _early(self) -> float:
        """How long before its time an endpoint is polled at a beat: half a tick on the wall clock, none in
        virtual time (its runs stay exact)."""
        return 0.0 if self.clock.exact else self.cfg.tick / 2

    def _ingest_guarded(self, obs: Observation) -> None:
        """A reading the console cannot digest is that endpoint's error (and a log line), never the tick's."""
        try:
            self.ingest(obs)
        except Exception as e:  # noqa: BLE001
            line = tasks.report(f"ingest {obs.source}/{obs.endpoint}", e)
            svc = self.state.services.get(obs.source)
            if svc is not None:
                svc.endpoints.setdefault(obs.endpoint, EndpointState(obs.endpoint)).error = f"internal error: {line}"

    def _failed(self, where: str, e: BaseException) -> None:
        self.state.engine_error = f"{where}: {tasks.report(where, e)}"
        self.state.engine_error_at = self.clock.now()

    # --- the one path every observation takes -------------------------------------------

    def ingest(self, obs: Observation) -> None:
        obs = admit(obs, self.scrub)  # the boundary: nothing past here holds escapes or a secret a service echoed
        for fn in self.observers:
            fn(obs)
        svc = self.state.services.get(obs.source)
        if svc is None:
            return
        ep = svc.endpoints.setdefault(obs.endpoint, EndpointState(obs.endpoint))
        ep.last_poll = obs.ts
        cfg = self.cfg.service(obs.source)
        if obs.endpoint == "metrics":
            self._ingest_metrics(obs, cfg.job or cfg.name, cfg.instance or "", ep)
            return
        ep.retry_at = obs.meta.get("retry_at") if obs.error is not None else None
        if obs.error is not None:
            ep.error = obs.error
            return
        try:
            reading: Reading = read(svc.kind, obs.endpoint, obs.payload, cfg.job or cfg.name, cfg.instance or "")
        except ValueError as e:
            # the reader names the endpoint; the state adds it again when it shows the error: say it once
            ep.error = clean(str(e).splitlines()[0].removeprefix(f"{obs.endpoint}: "), self.scrub, 200)
            for src in self._sources:
                if src.name == obs.source:
                    src.unusable(obs.endpoint)
            return
        ep.data, ep.last_ok, ep.error = reading.data, obs.ts, None
        self._add_samples(obs, reading.gauges)

    def _ingest_metrics(self, obs: Observation, job: str, instance: str, ep: EndpointState) -> None:
        """As Prometheus scrapes: `up`, and staleness markers for series that vanished or a failed scrape."""
        key = (obs.source, obs.endpoint)
        before = self._last_series.get(key, set())
        up = {"__name__": "up", "job": job, "instance": instance}
        ep.retry_at = obs.meta.get("retry_at") if obs.error is not None else None
        if obs.error is not None:
            ep.error = obs.error
            for lk in before:
                self.store.add(dict(lk), obs.ts, STALE_NAN)
            self._last_series[key] = set()
            self.store.add(up, obs.ts, 0.0)
            return
        samples = obs.samples or ()
        now_keys = set()
        resets = self._resets.setdefault(key, ResetWatch())
        for s in samples:
            lk = tuple(sorted(s.labels.items()))
            now_keys.add(lk)
            self.store.add(s.labels, s.ts if s.ts is not None else obs.ts, s.value)
            name = s.labels["__name__"]
            if is_counter(name):
                resets.add(lk, name, s.value)
        for lk in before - now_keys:
            self.store.add(dict(lk), obs.ts, STALE_NAN)
        resets.forget(before - now_keys)
        ep.warning = resets.warning()
        self._last_series[key] = now_keys
        self.store.add(up, obs.ts, 1.0)
        ep.last_ok, ep.error, ep.data = obs.ts, None, {"samples": len(samples)}

    def _add_samples(self, obs: Observation, gauges) -> None:
        for g in gauges:
            self.store.add(g.labels, g.ts if g.ts is not None else obs.ts, g.value)

    # --- evaluation ---------------------------------------------------------------------

    def query(self, expr: str, at: float) -> list[tuple[dict, float]]:
        if self.backend is not None:
            return self.backend.query(expr, at)
        return promql.evaluate(expr, self.store, at, semantics=self.cfg.promql_semantics, memo=self._memo)

    def _safe_query(self, at: float):
        def q(expr: str) -> list[tuple[dict, float]]:
            try:
                return self.query(expr, at)
            except Exception as e:  # a figure that cannot be computed is unknown, never a crash
                log.debug("panel query failed: %s: %s", expr, e)
                return []
        return q

    def expedite(self, service: str, *keys: str) -> None:
        """Poll these endpoints of a service at the next tick (all when none named), e.g. to verify a mitigation."""
        for src in self._sources + list(getattr(self, "_scrapers", [])):
            if src.name == service:
                own = [k for k in keys if k in {ep.key for ep in src.endpoints}]
                if own or not keys:
                    src.expedite(*own)

    def evaluate(self, now: float) -> ConsoleState:
        """Evaluate at `now` and publish the state."""
        self.step(now)
        return self.publish()

    def publish(self) -> ConsoleState:
        """Announce the state as complete (StatePublished): viewers render it, the recorder keeps its memos."""
        self.state.incidents = self.incidents.visible()  # as they are now: a replay restores them after `step`
        self.hub.publish(StatePublished(self.state))
        return self.state

    def step(self, now: float) -> ConsoleState:
        """Evaluate rules, figures and incidents at `now`, without publishing (a replay puts its memos in first)."""
        self.state.ts = now
        # a background writer that died (recorder, incident store) belongs to the live console: a replay or a
        # rewind's engine stepping meanwhile must not take it from the header it is meant for
        for name, line in tasks.take_failures() if self.mode == "live" else ():
            self.state.engine_error, self.state.engine_error_at = f"{name}: {line}", now
        self.hub.publish(Tick(now))
        self.state.rules = self.evaluator.evaluate(now, self.query)
        for transition in self.transitions.step(self.state.rules, now):
            self.hub.publish(transition)
        q = self._safe_query(now)
        for s in self.cfg.services:
            svc = self.state.services[s.name]
            svc.figures = self.figures.compute(svc, s.job or s.name, q, now, self.window_since(s.job or s.name))
        if self.backend is not None:
            self.backend.annotate(self.state, now)
        if now - self._trend_at >= TREND_STEP or now < self._trend_at:
            self._trend_at = now - (now % TREND_STEP)
            self.state.trends = self._trends(now)
        self.incidents.evaluate(self.state, now)
        return self.state

    def window_since(self, job: str) -> float | None:
        """When the samples the figures' windows read begin for `job`: its oldest `up` sample in the local store.
        None while a Prometheus server answers (its history is complete); before the first scrape, now (no data)."""
        backend = self.state.backend
        if self.backend is not None and backend is not None and backend.status in ("ok", "recorded"):
            return None
        firsts = [s.ts[0] for labels, s in self.store.series("up") if labels.get("job") == job and len(s.ts)]
        return min(firsts) / 1000 if firsts else self.state.ts

    def parts(self) -> dict[str, Memento]:
        """What the engine remembers beyond its windows, by the name a recording stores it under."""
        return {"figures": self.figures, "alerts": self.evaluator, "transitions": self.transitions,
                "incidents": self.incidents, "actions": self.actions}

    def _trends(self, now: float) -> dict[str, list[tuple[float, float]]]:
        out: dict[str, list[tuple[float, float]]] = {}
        for s in self.cfg.services:
            if s.kind == "converge":
                out[f"{s.name}:debt"] = self.range_query(
                    f'opsconsole_converge_debt_score{{job="{s.job}"}}', now - 3600, now, TREND_STEP)
        return out

    def range_query(self, expr: str, start: float, end: float, step: float) -> list[tuple[float, float]]:
        """A query_range over the local store: the first result series, as (ts, value) points."""
        points = []
        t = start - (start % step) + step
        while t <= end + 1e-9:
            try:
                res = self.query(expr, t)
            except Exception:
                res = []
            if res:
                points.append((t, res[0][1]))
            t += step
        return points

    async def plot_range(self, expr: str, start: float, end: float, step: float) -> list[tuple[float, float]]:
        """range_query for plots; with [prometheus], the server's query_range (in a thread) on the same grid."""
        if self.backend is not None:
            points = await self.backend.range(expr, start - (start % step) + step, end, step)
            if points is not None:
                return points
        return self.range_query(expr, start, end, step)

    def reset(self) -> None:
        """Forget all windows and alerts (a replay seek rebuilds them)."""
        self.store.clear()
        self.evaluator.reset()
        self.figures.reset()
        self._last_series.clear()
        self.transitions.reset()
        self._resets.clear()
        self.incidents.reset()
        self._trend_at = 0.0
        for svc in self.state.services.values():
            svc.endpoints.clear()
            svc.figures = {}

