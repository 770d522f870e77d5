"""HTTP to a service: auth headers, a total deadline per request, one-line errors that name no secret."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from console.config.schema import Auth
from console.safe_text import Scrubber, clean
from . import client as poll

if TYPE_CHECKING:  # httpx is loaded by whoever first sends with it (mitigations, silences), not by polling
    import httpx


def _httpx_errors(*names: str) -> tuple[type[BaseException], ...]:
    """httpx's exception classes `names`, or none while httpx is not imported: then no request can raise them."""
    httpx = sys.modules.get("httpx")
    return tuple(getattr(httpx, n) for n in names) if httpx is not None else ()


# (an except clause's classes are looked up when an exception reaches it, so these see httpx once it is loaded)
def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a request may raise: the poll client's (aiohttp, console/sources/client.py) or httpx's (mitigations, silences)."""
    return (poll.TransportError, *_httpx_errors("TransportError"))


def _reused_closed() -> tuple[type[BaseException], ...]:
    """httpx only: aiohttp resends an idempotent request itself when a reused connection turns out closed."""
    return _httpx_errors("RemoteProtocolError", "ReadError")


class SourceError(Exception):
    """A failed request, already phrased as one line that names no secret."""


def env_secret(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SourceError(f"auth: environment variable {name} is not set")
    return value


def auth_headers(auth: Auth) -> dict[str, str]:
    """Headers for one request; secrets are read now, so a rotated secret is picked up."""
    if auth.type == "basic":
        token = base64.b64encode(f"{auth.username}:{env_secret(auth.password_env)}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if auth.type == "bearer":
        return {"Authorization": f"Bearer {env_secret(auth.token_env)}"}
    if auth.type == "header":
        return {auth.header: env_secret(auth.value_env)}
    return {}


def auth_secrets(auth: Auth) -> list[str]:
    """Every value of this auth a service could echo: the secrets, `user:password`, the header values."""
    out = [os.environ.get(env, "") for env in auth.secret_envs()]
    if auth.type == "basic" and auth.password_env and os.environ.get(auth.password_env):
        out.append(f"{auth.username}:{os.environ[auth.password_env]}")
    return [s for s in out if s]


def config_secrets(cfg) -> list[str]:
    """Every configured secret of a Config (services and [prometheus]), in all the forms above."""
    out: list[str] = []
    for s in cfg.services:
        out += auth_secrets(s.auth)
    if cfg.prometheus is not None:
        out += auth_secrets(cfg.prometheus.auth)
        out += [os.environ.get(env, "") for env in cfg.prometheus.header_envs.values()]
    return [s for s in out if s]


def missing_secrets(cfg) -> list[str]:
    """One warning per secret variable that is not set, naming it and who needs it."""
    need: dict[str, list[str]] = {}
    for s in cfg.services:
        for env in s.auth.secret_envs():
            need.setdefault(env, []).append(s.name)
    if cfg.prometheus is not None:
        for env in cfg.prometheus.secret_envs():
            need.setdefault(env, []).append("[prometheus]")
    return [f"environment variable {env} is not set: requests to {', '.join(who)} will fail until it is"
            for env, who in need.items() if not os.environ.get(env)]


def config_scrubber(cfg) -> Scrubber:
    """A Scrubber that re-reads the config's secrets from the environment on `refresh()`."""
    return Scrubber(lambda: config_secrets(cfg))


def status_error(resp: httpx.Response | poll.Response, auth: Auth, scrub: Scrubber) -> str:
    """A non-accepted status as one line; the body is scrubbed before it is cut."""
    code = resp.status_code
    if code == 401:
        who = {"basic": f"basic auth as {auth.username}", "bearer": f"bearer token from {auth.token_env}",
               "header": f"{auth.header} from {auth.value_env}"}.get(auth.type)
        return f"HTTP 401 unauthorized ({who} refused)" if who else "HTTP 401 unauthorized (no credentials configured)"
    if code == 403:
        return "HTTP 403 forbidden"
    body = clean(resp.content.decode("utf-8", "replace"), scrub, 80)
    return f"HTTP {code}: {body or '(empty body)'}"


def transport_reason(e: BaseException) -> str:
    """The root cause in a few words: 'connection refused', 'cannot resolve host', ..."""
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "cannot resolve host"
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()  # ECONNREFUSED → "connection refused"
        cause = cause.__cause__ or cause.__context__
    return clean(str(e), limit=100).lower() or type(e).__name__


async def _bounded(client: httpx.AsyncClient | poll.Client, method: str, url: str, deadline: float,
                   **kw: Any) -> httpx.Response | poll.Response:
    """One request whose whole life (connect, headers, every body byte) fits in `deadline` seconds.

    httpx's timeout is per read: a server that sends a byte a second never trips it. This one does.
    """
    try:
        async with asyncio.timeout(deadline):
            return await client.request(method, url, timeout=deadline, **kw)
    except (TimeoutError, *_httpx_errors("TimeoutException")):
        raise SourceError(f"timeout after {float(deadline):g}s") from None


async def get(client: httpx.AsyncClient | poll.Client, url: str, headers: dict[str, str],
              deadline: float) -> httpx.Response | poll.Response:
    """A GET with a total deadline; sent once more on a fresh connection if a pooled one was just closed."""
    try:
        try:
            return await _bounded(client, "GET", url, deadline, headers=headers)
        except _reused_closed():
            # a keep-alive connection the server closed just as we reused it: a GET is safe to repeat
            return await _bounded(client, "GET", url, deadline, headers=headers)
    except _transport_errors() as e:
        raise SourceError(f"unreachable: {transport_reason(e)}") from None


async def send_once(client: httpx.AsyncClient | poll.Client, method: str, url: str, headers: dict[str, str], deadline: float,
                    body: Any = None) -> httpx.Response | poll.Response:
    """A mutation (or a silence): sent exactly once, never retried, within a total deadline.

    A timeout says so: the request may or may not have been applied, and only a re-poll can tell.
    """
    try:
        return await _bounded(client, method, url, deadline, headers=headers,
                              json=body if body is not None else None)
    except SourceError as e:
        raise SourceError(f"{e} (not retried: it may or may not have applied)") from None
    except _transport_errors() as e:
        raise SourceError(f"unreachable: {transport_reason(e)}") from None
