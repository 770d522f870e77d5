"""Polling machinery shared by every service kind: schedule, fetch, one-line errors, backoff."""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import os
import random
import socket
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Literal

import httpx

from console.config.schema import Auth, Service
from console.model import Observation
from .exposition import Reparser
from .loop_budget import budget_for

MAX_BACKOFF = 60.0
JITTER = 0.2


class SourceError(Exception):
    """A failed poll, already phrased as one line that names no secret."""


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


def metrics_endpoint(service: Service) -> Endpoint:
    return Endpoint("metrics", service.metrics_path, service.metrics_interval, "metrics")


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

    def next_due(self) -> float:
        return min(self._due.values())

    def expedite(self, *keys: str) -> None:
        """Make endpoints due now (all when none named), e.g. to verify a mitigation."""
        now = self.clock.now()
        for key in keys or self._due:
            self._due[key] = now

    async def poll_due(self, now: float) -> list[Observation]:
        due = [ep for ep in self.endpoints if self._due[ep.key] <= now]
        return list(await asyncio.gather(*(self._poll(ep, now) for ep in due)))

    async def _poll(self, ep: Endpoint, now: float) -> Observation:
        status = None
        try:
            if ep.fetch is not None:
                result = {"payload": await ep.fetch()}
            else:
                resp = await self._get(ep)
                status = resp.status_code
                if status not in ep.accept_statuses:
                    raise SourceError(_status_error(resp, self.service.auth, self._secrets()))
                await budget_for(self.clock).spend()  # many responses at once must not freeze the screen
                result = self._decode(ep, resp)
        except SourceError as e:
            result = {"error": str(e)}
        except Exception as e:  # noqa: BLE001 - a poll must never raise into the engine or the UI
            result = {"error": f"error: {type(e).__name__}: {one_line(str(e), 100)}"}
        if "error" in result:
            result["error"] = _scrub(result["error"], self._secrets())
        self._schedule(ep, now, failed="error" in result)
        return Observation(ts=now, source=self.name, endpoint=ep.key, status=status,
                           meta={"elapsed": max(0.0, self.clock.now() - now)}, **result)

    def _schedule(self, ep: Endpoint, now: float, failed: bool) -> None:
        if not failed:
            self.failures[ep.key] = 0
            self._due[ep.key] = now + ep.interval
            return
        self.failures[ep.key] += 1
        cap = max(MAX_BACKOFF, ep.interval)  # never poll a slow endpoint faster because it failed
        delay = min(ep.interval * 2 ** self.failures[ep.key], cap)
        self._due[ep.key] = now + delay * self._rng.uniform(1 - JITTER, 1 + JITTER)

    async def _get(self, ep: Endpoint) -> httpx.Response:
        headers = _auth_headers(self.service.auth)
        headers["accept"] = "application/json" if ep.format == "json" else "text/plain;version=0.0.4"
        url = self.service.url.rstrip("/") + ep.path
        try:
            try:
                resp = await self.client.get(url, headers=headers, timeout=self.service.timeout)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # a pooled keep-alive connection the server closed just as we reused it: a GET is
                # safe to send once more on a fresh connection (a mutation is never retried)
                resp = await self.client.get(url, headers=headers, timeout=self.service.timeout)
        except httpx.TimeoutException:
            raise SourceError(f"timeout after {float(self.service.timeout)}s") from None
        except httpx.TransportError as e:
            raise SourceError(f"unreachable: {_transport_reason(e)}") from None
        return resp

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
            raise SourceError(f"not JSON: {where}, body starts {one_line(text, 40)!r}") from None

    def _secrets(self) -> list[str]:
        """What must never appear in an error: the secrets and the headers made from them."""
        out = [os.environ.get(name, "") for name in self.service.auth.secret_envs()]
        try:
            out += [v for k, v in _auth_headers(self.service.auth).items()]
        except SourceError:
            pass
        out += [v.split(" ", 1)[1] for v in out if v.startswith(("Basic ", "Bearer "))]
        return [s for s in out if s]


def build_source(service: Service, client: httpx.AsyncClient, clock, rng: random.Random | None = None) -> Source:
    """The Source for a service, with the endpoints its kind's module declares."""
    module = importlib.import_module(f"{__package__}.{service.kind}")
    return Source(service, client, clock, module.endpoints(service), rng)


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SourceError(f"auth: environment variable {name} is not set")
    return value


def _auth_headers(auth: Auth) -> dict[str, str]:
    """Headers for one request; secrets are read now, so a rotated secret is picked up."""
    if auth.type == "basic":
        token = base64.b64encode(f"{auth.username}:{_env(auth.password_env)}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if auth.type == "bearer":
        return {"Authorization": f"Bearer {_env(auth.token_env)}"}
    if auth.type == "header":
        return {auth.header: _env(auth.value_env)}
    return {}


def _status_error(resp: httpx.Response, auth: Auth, secrets: list[str]) -> str:
    code = resp.status_code
    if code == 401:
        who = {"basic": f"basic auth as {auth.username}", "bearer": f"bearer token from {auth.token_env}",
               "header": f"{auth.header} from {auth.value_env}"}.get(auth.type)
        return f"HTTP 401 unauthorized ({who} refused)" if who else "HTTP 401 unauthorized (no credentials configured)"
    if code == 403:
        return "HTTP 403 forbidden"
    body = _scrub(resp.content.decode("utf-8", "replace"), secrets)
    return f"HTTP {code}: {one_line(body, 80) or '(empty body)'}"


def _transport_reason(e: httpx.TransportError) -> str:
    """The root cause in a few words: 'connection refused', 'cannot resolve host', ..."""
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "cannot resolve host"
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()  # ECONNREFUSED → "connection refused"
        cause = cause.__cause__ or cause.__context__
    return one_line(str(e), 100).lower() or type(e).__name__


def one_line(text: str, limit: int) -> str:
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
