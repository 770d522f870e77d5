"""The request path every simulated service shares: count, gate, authenticate, parse, advance, answer.

A service is a starlette `Router`'s routes behind a dispatcher (`Dispatch`): a request for one of its fixed paths
with its method (every request the console polls) goes straight to its endpoint; anything else (a path with a
parameter, an unknown path, a wrong method, HEAD) goes to the `Starlette` app of the same routes, as before. The
Starlette app ran each request through its middleware, exception handlers and router before the endpoint (a tenth
of a request's CPU in the demo's simulator child, its URL object another 4 %), for answers that stay the same
(tests/test_sim_wire.py compares them).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .base import Model
from .credentials import Credentials
from .metrics import CONTENT_TYPE, exposition
from .scenarios import Timeline

NO_BODY = object()


@dataclass(frozen=True)
class Mutation:
    """A mutating request a service received, whether it was accepted or refused (`status`)."""

    ts: float
    service: str
    method: str
    path: str
    body: Any  # parsed JSON, or the raw text when it was not JSON, or None when empty
    status: int = 0


@dataclass
class Context:
    """What every service is built from; `recorder` is the Fleet (count, record, test_event)."""

    clock: Any
    timeline: Timeline
    seed: int
    credentials: Credentials
    recorder: Any


class ApiError(Exception):
    """Raised by a handler: answered as `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Guard:
    """Maps a request's credentials to a role; None when they are missing or wrong."""

    def __init__(self, scheme: str, secrets: dict[str, str], header: str = "x-api-key", realm: str = "sim") -> None:
        assert scheme in ("basic", "bearer", "header")
        self.scheme, self.secrets, self.header, self.realm = scheme, secrets, header, realm

    def role(self, request: Request) -> str | None:
        given = self._presented(request)
        if given is None:
            return None
        found = None
        for secret, role in self.secrets.items():  # compare against all: no early exit to time
            if hmac.compare_digest(given.encode(), secret.encode()):
                found = role
        return found

    def _presented(self, request: Request) -> str | None:
        if self.scheme == "header":
            return request.headers.get(self.header)
        kind, _, value = request.headers.get("authorization", "").partition(" ")
        if self.scheme == "bearer":
            return value.strip() if kind.lower() == "bearer" else None
        if kind.lower() != "basic":
            return None
        try:
            return base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None

    def challenge(self) -> dict[str, str]:
        if self.scheme == "basic":
            return {"WWW-Authenticate": f'Basic realm="{self.realm}"'}
        if self.scheme == "bearer":
            return {"WWW-Authenticate": "Bearer"}
        return {}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def require_object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body


def require_keys(body: dict, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}")


def require_bool(body: dict, key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise ApiError(400, f"{key!r} must be true or false")
    return value


Handler = Callable[[Request, Any], Any]


class Api:
    """One service's routes, each wrapped in the shared request path."""

    def __init__(self, service: str, ctx: Context, model: Model, guard: Guard,
                 gate: Callable[[str], Response | None] | None = None) -> None:
        """`gate(path)`: an answer that replaces every answer of the service while it is not None."""
        self.service, self.ctx, self.model, self.guard, self.gate = service, ctx, model, guard, gate
        self.routes: list[Route] = []
        self.fixed: dict[tuple[str, str], Callable] = {}  # (method, path without parameters) → endpoint

    def route(self, path: str, handler: Handler, method: str = "GET", *, role: str | None = None,
              open: bool = False, record: str | None = None) -> None:
        """`role`: the role needed (None = any valid credential); `open`: no auth at all;
        `record`: "mutation" (appended to fleet.mutations) or "test_event" (counted when 202)."""
        async def endpoint(request: Request, path: str | None = None) -> Response:
            # `path`: the dispatcher's fixed path (it is the URL's path); else the URL's, as starlette reads it
            path = request.url.path if path is None else path
            body = NO_BODY
            if method in ("POST", "PUT"):
                body = _parse(await request.body())
            response = self._answer(request, path, handler, body, role, open)
            if record == "mutation":
                self.ctx.recorder.record(Mutation(self.ctx.clock.now(), self.service, method,
                                                  path, _logged(body), response.status_code))
            elif record == "test_event" and response.status_code == 202:
                self.ctx.recorder.test_event()
            return response

        self.routes.append(Route(path, endpoint, methods=[method], name=f"{method} {path}"))
        if "{" not in path:
            self.fixed[(method, path)] = endpoint

    def metrics(self, families: Callable, *, open: bool = False, path: str = "/metrics") -> None:
        self.route(path, lambda request, body: Response(exposition(families), media_type=CONTENT_TYPE), open=open)

    def app(self) -> "Dispatch":
        return Dispatch(self.fixed, Starlette(routes=self.routes))

    def _answer(self, request: Request, path: str, handler: Handler, body: Any, role: str | None,
                open: bool) -> Response:
        self.ctx.recorder.count(self.service, path)
        if self.gate is not None and (closed := self.gate(path)) is not None:
            return closed
        if not open:
            who = self.guard.role(request)
            if who is None:
                return error(401, "unauthorized", self.guard.challenge())
            if role is not None and who != role:
                return error(403, f"forbidden: needs the {role} role")
        if isinstance(body, _Raw):
            return error(400, "body is not valid JSON")
        self.model.advance()
        try:
            result = handler(request, None if body is NO_BODY else body)
        except ApiError as e:
            return error(e.status, e.message)
        if isinstance(result, Response):
            return result
        status, payload = result if isinstance(result, tuple) else (200, result)
        return JSONResponse(payload, status_code=status)


class Dispatch:
    """A service's ASGI app: its fixed routes answered directly, everything else by its Starlette app."""

    def __init__(self, fixed: dict[tuple[str, str], Callable], app: Starlette) -> None:
        self.fixed, self.app = fixed, app

    async def __call__(self, scope, receive, send) -> None:
        endpoint = self.fixed.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if endpoint is None:
            return await self.app(scope, receive, send)
        try:
            response = await endpoint(Request(scope, receive, send), scope["path"])
        except Exception:
            # as the Starlette app's ServerErrorMiddleware: a plain 500, and the error raised on to the server
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise
        await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _Raw:
    """A body that did not parse as JSON (kept as text for the mutation log)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return NO_BODY
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _Raw(raw.decode("utf-8", "replace"))


def _logged(body: Any) -> Any:
    if body is NO_BODY:
        return None
    return body.text if isinstance(body, _Raw) else body


def query_int(request: Request, key: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; 400 otherwise."""
    text = request.query_params.get(key)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{key} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, f"{key} must be between {low} and {high}")
    return value
