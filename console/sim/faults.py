"""Fault injection for the simulated fleet: an ASGI layer that turns a service hostile on demand (tests, chaos)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Callable

from console.clock import parse_iso

# Markup that would act (a click that quits, a colour that never closes, a link cut in its tag), a screen
# wipe, a window title and an OSC 8 hyperlink: every one must reach the screen as inert text or not at all.
HOSTILE = ("[@click=app.quit]Q[/] [bold red]x[/]…[/] \x1b[2J\x1b[31mred\x1b]0;pwned\x07"
           "\x1b]8;;http://evil.test\x07link\x1b]8;;\x07\x9b2J\x07 [link=x")

_NUM = "\u0000num\u0000"  # placeholder a JSON number becomes before the raw token replaces it


@dataclass
class Fault:
    kind: str
    path: str | None = None  # only requests whose path starts with this (None: every request)


def _numbers(doc: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(doc, bool) or doc is None:
        return doc
    if isinstance(doc, (int, float)):
        return fn(doc)
    if isinstance(doc, dict):
        return {k: _numbers(v, fn) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_numbers(v, fn) for v in doc]
    return doc


def _strings(doc: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(doc, str):
        return fn(doc)
    if isinstance(doc, dict):
        return {k: _strings(v, fn) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_strings(v, fn) for v in doc]
    return doc


def _lists(doc: Any) -> Any:
    """Every list of objects twice over: two rows with the same name, two flags alike."""
    if isinstance(doc, dict):
        return {k: _lists(v) for k, v in doc.items()}
    if isinstance(doc, list):
        items = [_lists(v) for v in doc]
        return items + items if items and all(isinstance(v, dict) for v in items) else items
    return doc


def _is_time(text: str) -> bool:
    try:
        parse_iso(text)
    except ValueError:
        return False
    return True


def _raw_numbers(doc: Any, token: str) -> bytes:
    """The document with every number written as `token` (NaN, Infinity, 1 and 400 zeros): not strict JSON."""
    return json.dumps(_numbers(doc, lambda v: _NUM)).replace(json.dumps(_NUM), token).encode()


def _credentials(headers: dict[str, str]) -> list[str]:
    return [v for k, v in headers.items() if k in ("authorization", "x-api-key")]


def _echo(headers: dict[str, str]) -> str:
    """What a careless service answers: the request's credentials, as headers and bare."""
    creds = _credentials(headers)
    bare = [c.split(" ", 1)[1] if " " in c else c for c in creds]
    return " ".join([f"{k}: {v}" for k, v in headers.items() if k in ("authorization", "x-api-key")] + bare)


def _json_fault(kind: str, doc: Any, headers: dict[str, str]) -> bytes:
    if kind == "nan":
        return _raw_numbers(doc, "NaN")
    if kind == "infinity":
        return _raw_numbers(doc, "Infinity")
    if kind == "huge":
        return _raw_numbers(doc, "1" + "0" * 400)
    if kind == "wrong-type":
        return json.dumps(_numbers(doc, lambda v: str(v))).encode()
    if kind == "markup":  # times stay readable, so the hostile names and texts are shown rather than refused
        return json.dumps(_strings(doc, lambda s: s if _is_time(s) else HOSTILE + s)).encode()
    if kind == "duplicates":
        return json.dumps(_lists(doc)).encode()
    if kind == "echo-json":
        secret = _echo(headers)
        return json.dumps(_strings(doc, lambda s: f"{s} ({secret})")).encode()
    raise ValueError(kind)


BODY_FAULTS = {"nan", "infinity", "huge", "wrong-type", "markup", "duplicates", "echo-json"}
STATUS_FAULTS = {
    "echo-500": lambda h: (500, f"internal error: request had {_echo(h)}".encode()),
    "link-500": lambda h: (500, b"error: upstream said [link=x"),
    "markup-500": lambda h: (500, HOSTILE.encode()),
    "unavailable": lambda h: (503, b'{"status": "not_ready", "reason": "maintenance"}'),
    "garbage": lambda h: (200, b"\x00\xff<html>\x1b[2J not json"),
    "empty": lambda h: (200, b""),
}
STREAM_FAULTS = {"drip", "hang"}
METRICS_FAULTS = {"counter-reset"}  # /metrics only: every counter lower than at the last scrape
KINDS = tuple(sorted(BODY_FAULTS | set(STATUS_FAULTS) | STREAM_FAULTS | METRICS_FAULTS))


def _counters_back(text: str, n: int) -> str:
    """Every `_total` sample of an exposition set below its previous value: a reset at every scrape."""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            head, _, rest = line.rpartition("}") if "}" in line else ("", "", line)
            parts = rest.split()
            name = (head or parts[0]).split("{")[0]
            if name.endswith("_total") and len(parts) >= (1 if head else 2):
                parts[0 if head else 1] = repr(1_000_000.0 / (n + 1))
                line = (head + "} " if head else "") + " ".join(parts)
        out.append(line)
    return "\n".join(out) + "\n"


class Faults:
    """Per-service faults, switched on and off while the fleet runs; wraps each service's ASGI app."""

    def __init__(self, drip_interval: float = 1.0) -> None:
        self.active: dict[str, Fault] = {}
        self.drip_interval = drip_interval  # real seconds between bytes of a dripped body
        self.injected = 0  # responses altered so far

    def set(self, service: str, kind: str, path: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r} (one of {', '.join(KINDS)})")
        self.active[service] = Fault(kind, path)

    def clear(self, service: str | None = None) -> None:
        if service is None:
            self.active.clear()
        else:
            self.active.pop(service, None)

    def wrap(self, service: str, app):
        async def faulty(scope, receive, send):
            fault = self.active.get(service)
            if scope["type"] != "http" or fault is None or not scope["path"].startswith(fault.path or ""):
                return await app(scope, receive, send)
            await self._inject(fault, app, scope, receive, send)

        return faulty

    async def _inject(self, fault: Fault, app, scope, receive, send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        status, body, content_type = await _call(app, scope, receive)
        self.injected += 1
        if fault.kind in STATUS_FAULTS:
            status, body = STATUS_FAULTS[fault.kind](headers)
            content_type = "text/plain"
        elif fault.kind in METRICS_FAULTS and content_type.startswith("text/plain"):
            body = _counters_back(body.decode(), self.injected).encode()
        elif fault.kind in BODY_FAULTS and content_type.startswith("application/json"):
            body = _json_fault(fault.kind, json.loads(body), headers)
        elif fault.kind == "hang":
            await _disconnected(receive)  # never answer: until the client gives up
            return
        start = {"type": "http.response.start", "status": status,
                 "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]}
        await send(start)
        if fault.kind == "drip":
            gone = asyncio.ensure_future(_disconnected(receive))
            try:
                for i in range(len(body)):
                    await send({"type": "http.response.body", "body": body[i:i + 1], "more_body": True})
                    await asyncio.wait({gone}, timeout=self.drip_interval)
                    if gone.done():
                        return
            finally:
                gone.cancel()
        await send({"type": "http.response.body", "body": body if fault.kind != "drip" else b""})


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _call(app, scope, receive) -> tuple[int, bytes, str]:
    """Run the real service and collect its whole answer."""
    out = {"status": 500, "body": bytearray(), "type": "text/plain"}

    async def collect(message) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            for k, v in message.get("headers", []):
                if k.lower() == b"content-type":
                    out["type"] = v.decode("latin-1")
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await app(scope, receive, collect)
    return out["status"], bytes(out["body"]), out["type"]

