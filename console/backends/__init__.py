"""Metric backends: which expressions a Prometheus server can answer, and how its raw samples meet the local store."""

from __future__ import annotations

import asyncio
import logging
from typing import Iterable, Iterator

import promql_parser

from console import promql
from console.metrics.store import SeriesStore
from console.metrics.panels import EXPRS
from console.metrics.retention import LOOKBACK
from console.state import BackendState, EndpointState
from .prometheus import PrometheusClient, QueryError
from console.tasks import supervise

log = logging.getLogger(__name__)

# Series the console derives from the services' JSON endpoints: they exist only in the local store.
LOCAL_PREFIX = "opsconsole_"


def route(expr: str) -> tuple[str, list[tuple[str, float]]]:
    """Where `expr` is evaluated, decided from its selectors.

    "local": every selector reads an opsconsole_* gauge (or there is none, e.g. `vector(1)`);
    "remote": none does, so the server answers it as it is;
    "mixed": both kinds; the second item lists the server-side selectors with the window of raw
    samples (seconds) a local evaluation needs from them.
    """
    local, remote = False, []
    inner = False  # the walk visits a range selector, then its vector selector: that one is done already

    def visit(node) -> bool:  # returning False would end the whole walk, not only this branch
        nonlocal local, inner
        kind = type(node).__name__
        if kind == "MatrixSelector":
            sel, span, inner = node.vector_selector, node.range.total_seconds(), True
        elif kind == "VectorSelector" and inner:
            inner = False
            return True
        elif kind == "VectorSelector":
            sel, span = node, LOOKBACK
        else:
            return True
        if (sel.name or "").startswith(LOCAL_PREFIX):
            local = True
        else:
            offset = sel.offset.total_seconds() if sel.offset else 0.0
            remote.append((f"{sel.name or ''}{sel.matchers}", span + offset))
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    if not remote:
        return "local", []
    return ("mixed", remote) if local else ("remote", [])


class Overlay:
    """A store view for mixed expressions: opsconsole_* series from the local store, the rest pulled."""

    def __init__(self, local: SeriesStore, pulled: SeriesStore) -> None:
        self.local, self.pulled = local, pulled

    def series(self, name: str | None = None) -> Iterator:
        if name is None:
            yield from self.local.series()
            yield from self.pulled.series()
        elif name.startswith(LOCAL_PREFIX):
            yield from self.local.series(name)
        else:
            yield from self.pulled.series(name)

    def select(self, name: str | None, matchers: tuple, dot_all: bool = True) -> list:
        if name is None:
            return self.local.select(None, matchers, dot_all) + self.pulled.select(None, matchers, dot_all)
        return (self.local if name.startswith(LOCAL_PREFIX) else self.pulled).select(name, matchers, dot_all)


def load_matrix(store: SeriesStore, matrix: Iterable[tuple[dict[str, str], list[tuple[float, float]]]]) -> int:
    """Add raw samples (as a range-vector instant query returns them) to a store; returns how many."""
    return store.add_many((labels, t, v) for labels, points in matrix for t, v in points)


WANTED_FOR = 60.0  # an ad-hoc expression is re-asked each tick while something asked for it this recently
ENDPOINT = "prometheus"  # the pseudo-endpoint on each service that carries its panel's query errors


class RemoteMetrics:
    """The engine's metric queries answered by a Prometheus server, or by the local store while it is unreachable.

    Each tick `prepare` sends every remote expression (rules and panel figures) as an instant
    query, concurrently in threads; `query` then answers the engine's synchronous evaluation from
    those results. Expressions reading only opsconsole_* gauges stay local; mixed ones are evaluated
    locally over the server's raw samples. A server-level failure (unreachable, timeout, TLS,
    refused credentials, not Prometheus's API) switches to fallback: the engine scrapes /metrics
    itself and everything is evaluated locally until a background probe reaches the server again.
    """

    CONCURRENCY = 6  # the default thread pool has min(32, cpus + 4) workers

    def __init__(self, cfg, store: SeriesStore, rules, client=None) -> None:
        self.cfg, self.pcfg, self.store = cfg, cfg.prometheus, store
        self.client = client or PrometheusClient(cfg.prometheus)
        self.state = BackendState(url=self.pcfg.url)
        self._panels = {s.name: (s.job, [(k, e.replace("$job", s.job)) for k, e in EXPRS.get(s.kind, {}).items()])
                        for s in cfg.services}
        self._ups = {s.name: f'up{{job="{s.job}"}}' for s in cfg.services}
        self._rules = {s.name: [(f"rule {r.name}", r.expr) for r in rules if r.service == s.name] for s in cfg.services}
        exprs = {r.expr for r in rules} | set(self._ups.values())
        exprs |= {e for _, panel in self._panels.values() for _, e in panel}
        self._tick_exprs = sorted(exprs)
        self._routes = {e: route(e) for e in self._tick_exprs}
        for kind in ("remote", "local", "mixed"):
            setattr(self.state, kind, sum(1 for r, _ in self._routes.values() if r == kind))
        self._wanted: dict[str, float] = {}  # ad-hoc expression → when last asked (answered from the next tick)
        self._at: float | None = None
        self._results: dict[str, object] = {}
        # this tick's answers the engine used ([[labels, value]...] or {"error": line}): a recording keeps them
        self.answered: dict[str, object] = {}
        self._broken = None  # the server-level QueryError that stopped this tick's queries
        self._retry_at = 0.0
        self._probe: asyncio.Task | None = None
        self._limit = asyncio.Semaphore(self.CONCURRENCY)

    @property
    def scraping(self) -> bool:
        """True while the console must scrape /metrics itself (server unreachable, fallback on)."""
        return self.state.status == "fallback"

    async def prepare(self, at: float) -> None:
        """Ask the server for every remote expression at `at` (and mixed ones' raw samples)."""
        self._at, self._results, self._broken = at, {}, None
        self.answered = {}
        if self.state.status == "connecting":
            await self._reach(at)  # the first tick waits for the server's first answer
        elif self.state.status != "ok":
            if at >= self._retry_at and (self._probe is None or self._probe.done()):
                self._retry_at = at + self.pcfg.retry
                self._probe = supervise(asyncio.create_task(self._reach(at)), "prometheus probe")  # the tick goes on locally meanwhile
        if self.state.status != "ok":
            return
        self._wanted = {e: t for e, t in self._wanted.items() if t >= at - WANTED_FOR}
        exprs = self._tick_exprs + sorted(set(self._wanted) - set(self._tick_exprs))
        answers = await asyncio.gather(*(self._answer(e, at) for e in exprs))
        self._results = dict(zip(exprs, answers))
        if self._broken is not None:
            self._lost(self._broken, at)

    def query(self, expr: str, at: float) -> list[tuple[dict, float]]:
        """The engine's query function: a prepared answer, or the local evaluator."""
        kind = self._route(expr)[0]
        if kind == "local" or self.scraping:
            return promql.evaluate(expr, self.store, at, semantics=self.cfg.promql_semantics)
        try:
            result = self._query(expr, kind, at)
        except QueryError as e:
            if at == self._at:
                self.answered[expr] = {"error": str(e)}
            raise
        if at == self._at:
            self.answered[expr] = [[labels, value] for labels, value in result]
        return result

    def _query(self, expr: str, kind: str, at: float) -> list[tuple[dict, float]]:
        if self.state.status != "ok":
            raise QueryError(f"Prometheus {self.state.error or 'not reached yet'}", server=True)
        answer = self._results.get(expr) if at == self._at else None
        if answer is None:  # an ad-hoc query (incident detail, action evidence): the event loop must not block
            self._wanted[expr] = at
            raise QueryError("asked of Prometheus from the next tick on", server=False)
        if isinstance(answer, QueryError):
            raise answer
        if kind == "mixed":
            return promql.evaluate(expr, Overlay(self.store, answer), at, semantics=self.cfg.promql_semantics)
        return answer

    def _route(self, expr: str) -> tuple[str, list[tuple[str, float]]]:
        if expr not in self._routes:
            try:
                self._routes[expr] = route(expr)
            except ValueError:  # not PromQL at all: the local evaluator says why
                self._routes[expr] = ("local", [])
        return self._routes[expr]

    async def range(self, expr: str, start: float, end: float, step: float) -> list[tuple[float, float]] | None:
        """query_range's first series for a plot; None when the local store must answer."""
        if self._route(expr)[0] != "remote" or self.state.status != "ok":
            return None
        try:
            series = await asyncio.to_thread(self.client.range, expr, start, end, step)
        except QueryError:
            return None
        return series[0][1] if series else []

    def annotate(self, state, at: float) -> None:
        """Publish the backend status, and on each service the first panel query that failed, and why."""
        state.backend = self.state
        for name, (job, panel) in self._panels.items():
            svc = state.services.get(name)
            if svc is None:
                continue
            if self.scraping:  # its /metrics is polled directly again: that endpoint speaks for it
                svc.endpoints.pop(ENDPOINT, None)
                continue
            ep = svc.endpoints.setdefault(ENDPOINT, EndpointState(ENDPOINT))
            ep.last_poll, ep.error = at, self._panel_error(name, job, panel)
            if ep.error is None:
                ep.last_ok = at

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        self.client.close()

    # --- internals ----------------------------------------------------------------------

    async def _answer(self, expr: str, at: float):
        kind, selectors = self._routes[expr]
        if kind == "local":
            return None
        if kind == "remote":
            return await self._ask(self.client.instant, expr, at)
        pulled = SeriesStore(retention=1e9)
        for selector, window in selectors:
            # the API drops staleness markers from raw samples: an instant selector over them still
            # sees a series up to 5 min after it vanished, where the server would not
            matrix = await self._ask(self.client.raw, selector, window, at)
            if isinstance(matrix, QueryError):
                return matrix
            load_matrix(pulled, matrix)
        return pulled

    async def _ask(self, fn, *args):
        async with self._limit:
            if self._broken is not None:  # the server is gone: do not queue 60 more timeouts behind it
                return self._broken
            try:
                return await asyncio.to_thread(fn, *args)
            except QueryError as e:
                if e.server and self._broken is None:
                    self._broken = e
                return e

    async def _reach(self, at: float) -> None:
        """Probe the server with a trivial query (and read its version); switch status by the outcome."""
        try:
            await asyncio.to_thread(self.client.instant, "vector(1)", at)
            if self.state.version is None:
                self.state.version = await asyncio.to_thread(self.client.version)
        except QueryError as e:
            self._lost(e, at)
            return
        self._set("ok", None, at)

    def _lost(self, e: Exception, at: float) -> None:
        self._results = {}
        self._retry_at = at + self.pcfg.retry
        self._set("fallback" if self.pcfg.fallback else "down", str(e), at)

    def _set(self, status: str, error: str | None, at: float) -> None:
        if status != self.state.status:
            self.state.since = at
            # info, not warning: the TUI shares the terminal with stderr; the header says it on screen
            log.info("metrics backend %s: %s%s", self.pcfg.url, status, f" ({error})" if error else "")
        self.state.status, self.state.error = status, error

    def _panel_error(self, name: str, job: str, panel: list[tuple[str, str]]) -> str | None:
        if self.state.status != "ok":
            return f"unreachable: {self.state.error or 'not reached yet'}"
        remote = [(k, e) for k, e in panel if self._routes[e][0] != "local"]
        for key, expr in remote + self._rules.get(name, []):  # a rule's failed query shows on its service's panel
            if isinstance(self._results.get(expr), QueryError):
                return f"{key}: {self._results[expr]} — {expr}"  # the why first: a panel line cuts the end
        up = self._results.get(self._ups[name])
        if not isinstance(up, list) or any(v == 1 for _, v in up):
            return None  # the job is scraped: an empty figure is an absent series, as in local mode
        empty = next(((k, e) for k, e in remote if self._results.get(e) == []), None)
        if empty is None:
            return None
        why = f'Prometheus has no target with job="{job}"' if not up else \
            f'Prometheus cannot scrape job="{job}": up == 0'
        return f"{empty[0]}: no series ({why}) — {empty[1]}"
