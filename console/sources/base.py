"""Polling machinery shared by every service kind: schedule, fetch, one-line errors, backoff."""

from __future__ import annotations

import asyncio
import importlib
import json
import random
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Literal, TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: polls go through aiohttp (console/sources/client.py)
    import httpx

from console.config.schema import Service
from console.model import Observation
from console.safe_text import Scrubber, clean
from .exposition import Reparser
from .loop_budget import budget_for
from .transport import SourceError, auth_headers, auth_secrets, get, status_error

MAX_BACKOFF = 60.0
JITTER = 0.2


@dataclass
class Endpoint:
    key: str  # "metrics", "health", ...
    path: str  # with query string
    interval: float
    format: Literal["json", "metrics"]
    accept_statuses: tuple[int, ...] = (200,)  # e.g. (200, 503): a 503 /health/ready is a reading
    fetch: Callable[[], Awaitable[Any]] | None = None  # a non-HTTP reader (SSM) giving the JSON payload


def json_endpoint(service: Service, key: str, path: str, min_interval: float = 0.0,
                  accept: tuple[int, ...] = (200,)) -> Endpoint:
    return Endpoint(key, path, max(service.interval, min_interval), "json", accept)


# /metrics of a kind whose every panel figure and rule reads a window of 5 minutes or more (or a gauge whose alert
# waits a minute): scraped every 5 s, as its JSON is read, unless the config sets `metrics_interval`. A rate over
# 5 min from 60 samples is the rate Prometheus computes from them (it scrapes every 15-60 s by default), a figure
# moves no sooner than a person reads it, and a scrape a second of those kinds (180 of the demo's 190 series)
# was most of the demo's polling, parsing, recording and simulating. Conversion keeps 1 s: its panel reads a
# 1-minute rate and the age of the last event.
WINDOWED_EVERY = 5.0


def metrics_endpoint(service: Service, usual: float | None = None) -> Endpoint:
    """/metrics every `metrics_interval` when the config sets it, else every `usual` seconds (a kind whose
    figures do not need a scrape a second says so), else the default (1 s)."""
    every = service.metrics_interval if service.metrics_interval is not None else usual if usual is not None else 1.0
    return Endpoint("metrics", service.metrics_path, every, "metrics")


class Source:
    """Polls one service's endpoints, each on its own schedule, backing off on failure."""

    def __init__(self, service: Service, client: httpx.AsyncClient, clock, endpoints: list[Endpoint],
                 rng: random.Random | None = None) -> None:
        self.name = service.name
        self.kind = service.kind
        self.service = service
        self.endpoints = endpoints
        self.client = client
        self.clock = clock
        self._reparsers: dict[str, Reparser] = {}  # per metrics endpoint: successive bodies parse cheaply
        # Seeded so that a test (or a replayed run) sees the same jitter every time.
        self._rng = rng or random.Random(service.name)
        start = clock.now()
        self._due = {ep.key: start for ep in endpoints}
        self.failures = {ep.key: 0 for ep in endpoints}
        self._scrub = Scrubber(lambda: auth_secrets(service.auth))

    def next_due(self) -> float:
        return min(self._due.values())

    def expedite(self, *keys: str) -> None:
        """Make endpoints due now (all when none named), e.g. to verify a mitigation."""
        now = self.clock.now()
        for key in keys or self._due:
            self._due[key] = now

    def unusable(self, key: str) -> None:
        """Its last answer could not be read (NaN, a wrong type): try again at the service's base interval,
        not the endpoint's slow one, so the panel heals soon after the service does."""
        if key in self._due:
            self._due[key] = min(self._due[key], self.clock.now() + self.service.interval)

    async def poll_due(self, now: float, early: float = 0.0) -> list[Observation]:
        """Poll the endpoints due at `now`, or within `early` after it (the engine's beat takes them along)."""
        due = [ep for ep in self.endpoints if self._due[ep.key] <= now + early]
        out = list(await asyncio.gather(*(self._poll(ep, now) for ep in due)))
        # a probe that just succeeded made the backed-off endpoints due: read them in this same tick
        again = [ep for ep in self.endpoints if ep not in due and self._due[ep.key] <= now]
        return out + list(await asyncio.gather(*(self._poll(ep, now) for ep in again)))

    async def _poll(self, ep: Endpoint, now: float) -> Observation:
        status = None
        try:
            if ep.fetch is not None:
                # boto3 has its own timeouts and retries; this bounds the whole call all the same
                async with asyncio.timeout(self.service.timeout * 3):
                    result = {"payload": await ep.fetch()}
            else:
                resp = await self._get(ep)
                status = resp.status_code
                if status not in ep.accept_statuses:
                    self._scrub.refresh()  # a rotated secret is masked in the very answer that echoes it
                    raise SourceError(status_error(resp, self.service.auth, self._scrub))
                await budget_for(self.clock).spend()  # many responses at once must not freeze the screen
                result = self._decode(ep, resp)
        except SourceError as e:
            result = {"error": str(e)}
        except TimeoutError:
            result = {"error": f"timeout after {float(self.service.timeout * 3):g}s"}
        except Exception as e:  # noqa: BLE001 - a poll must never raise into the engine or the UI
            result = {"error": f"error: {type(e).__name__}: {clean(str(e), self._scrub, 100)}"}
        if "error" in result:
            self._scrub.refresh()
            result["error"] = clean(result["error"], self._scrub, 200)
        self._schedule(ep, now, failed="error" in result)
        meta = {"elapsed": max(0.0, self.clock.now() - now)}
        if "error" in result:
            meta["retry_at"] = self._due[ep.key]  # shown as "retrying in Ns" rather than a stale error
        return Observation(ts=now, source=self.name, endpoint=ep.key, status=status, meta=meta, **result)

    def _schedule(self, ep: Endpoint, now: float, failed: bool) -> None:
        if not failed:
            was_failing = self.failures[ep.key] > 0
            self.failures[ep.key] = 0
            self._due[ep.key] = now + ep.interval
            if was_failing:  # the service answers again: what still backs off is retried now, not in a minute
                for other in self.endpoints:
                    if self.failures[other.key]:
                        self._due[other.key] = min(self._due[other.key], now)
            return
        self.failures[ep.key] += 1
        if ep is self._probe():
            # One cheap request at the normal interval notices the end of a fault within one interval;
            # the others keep backing off, for the network's sake.
            self._due[ep.key] = now + ep.interval
            return
        cap = max(MAX_BACKOFF, ep.interval)  # never poll a slow endpoint faster because it failed
        delay = min(ep.interval * 2 ** self.failures[ep.key], cap)
        self._due[ep.key] = now + delay * self._rng.uniform(1 - JITTER, 1 + JITTER)

    def _probe(self) -> Endpoint | None:
        """The failing endpoint that keeps its interval: the first JSON one (a scrape is the costly one, and a
        source that only scrapes backs off as before)."""
        return next((e for e in self.endpoints if self.failures[e.key] and e.format == "json"), None)

    async def _get(self, ep: Endpoint) -> httpx.Response:
        headers = auth_headers(self.service.auth)
        headers["accept"] = "application/json" if ep.format == "json" else "text/plain;version=0.0.4"
        return await get(self.client, self.service.url.rstrip("/") + ep.path, headers, self.service.timeout)

    def _decode(self, ep: Endpoint, resp: httpx.Response) -> dict:
        if ep.format == "metrics":
            try:
                text = resp.content.decode("utf-8")
            except UnicodeDecodeError:
                raise SourceError("metrics: body is not UTF-8 text") from None
            parser = self._reparsers.get(ep.key)
            if parser is None:
                parser = self._reparsers[ep.key] = Reparser(self.service.job, self.service.instance)
            try:
                samples = parser.parse(text)
            except ValueError as e:
                raise SourceError(str(e)) from None
            return {"samples": tuple(samples)}
        try:
            text = resp.content.decode("utf-8-sig")  # JSON over HTTP is UTF-8 (RFC 8259); a BOM is tolerated
        except UnicodeDecodeError:
            raise SourceError("not JSON: body is not UTF-8 text") from None
        try:
            return {"payload": json.loads(text)}
        except json.JSONDecodeError as e:
            where = str(e).split(" (char ")[0]  # "Expecting value: line 1 column 1"
            raise SourceError(f"not JSON: {where}, body starts {clean(text, self._scrub, 40)!r}") from None


def build_source(service: Service, client: httpx.AsyncClient, clock, rng: random.Random | None = None) -> Source:
    """The Source for a service, with the endpoints its kind's module declares."""
    module = importlib.import_module(f"{__package__}.{service.kind}")
    return Source(service, client, clock, module.endpoints(service), rng)


def one_line(text: str, limit: int) -> str:
    """Service text on one line, escapes and controls stripped, cut to `limit` (scrub first if it may hold secrets)."""
    return clean(text, limit=limit)
