"""A small HTTP/1.1 client for polling: keep-alive connections per origin, every byte a service sends checked.

Why not httpx for polls: at 200 services httpx + httpcore cost about half the console's CPU per request
(request models, auth and redirect machinery, anyio wrappers, pool bookkeeping, extra-info lookups), for
GETs that need none of it. This client does what a poll needs and nothing else:

* GET (and any method with a JSON body) over HTTP/1.1, `http` or `https` (the caller's SSL context);
* connections kept alive and reused per origin (LIFO, so a 1 s scrape keeps one socket warm), dropped when
  the server closes them, when a response says `Connection: close`, or after `KEEPALIVE` seconds idle;
* redirects are never followed (a 3xx is an answer like any other status); no cookies, no proxies (the
  engine uses httpx when a proxy is configured in the environment);
* responses parsed strictly: a malformed status line, header line, `Content-Length` or chunk size is a
  `ProtocolError`; headers are capped at `MAX_HEADER` bytes and bodies at `MAX_BODY`; gzip/deflate bodies
  are decoded (also capped) though identity is asked for;
* no deadline of its own: the caller bounds the whole request (console/sources/transport.py). A request
  cancelled half way closes its connection, so no half-read response is ever reused.

Errors are `TransportError`s whose message is one lower-case line (`transport_reason` reads the OSError
cause for connection failures), like httpx's.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import ssl
import zlib
from urllib.parse import urlsplit

from console.clock import WallClock

MAX_HEADER = 64 * 1024  # status line + headers
MAX_BODY = 64 * 1024 * 1024  # a /metrics body larger than this is an error, not an out-of-memory
KEEPALIVE = 15.0  # seconds an idle connection is kept (the server closing it sooner is noticed and handled)
_NO_BODY_STATUS = {204, 304}
_SOCKETS = WallClock()  # keep-alive idles on real sockets in real time, whatever clock the console runs on


class TransportError(Exception):
    """The request failed below HTTP: connecting, sending, or reading a well-formed response."""


class ConnectError(TransportError):
    pass


class ProtocolError(TransportError):
    """The service's bytes are not a well-formed HTTP/1.1 response."""


class ServerDisconnected(ProtocolError):
    """The connection closed before a response started: on a reused keep-alive connection, a GET may be resent."""


class Response:
    """What a poll reads: the status, the headers (lower-case names, last value wins) and the whole body."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return jsonlib.loads(self.content)


class _Conn:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing() and now - self.idle_since < KEEPALIVE

    def close(self) -> None:
        self.writer.close()


class _Origin:
    """Where a URL goes and how its request line starts, parsed once per distinct URL."""

    __slots__ = ("scheme", "host", "port", "target", "host_header")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise TransportError(f"unsupported url scheme {parts.scheme!r}")
        if not parts.hostname:
            raise TransportError("no host in url")
        if parts.username or parts.password:
            raise TransportError("credentials in the url are not sent (configure auth instead)")
        self.scheme = parts.scheme
        self.host = parts.hostname
        try:
            port = parts.port
        except ValueError:
            raise TransportError("invalid port in url") from None
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        _check_value(self.target, "url")
        name = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = name if port is None else f"{name}:{port}"


class Client:
    """Pooled HTTP/1.1 connections for one service's polls (any origin; usually the service's one)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, max_connections: int = 8) -> None:
        self._ssl = ssl_context
        self._idle: dict[tuple, list[_Conn]] = {}
        self._slots = asyncio.Semaphore(max_connections) if max_connections else None
        self._origins: dict[str, _Origin] = {}
        self._open: set[_Conn] = set()
        self.connections_opened = 0  # for tests and benches: keep-alive is working when this stays small
        self.closed = False

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                      timeout: float | None = None, json=None) -> Response:  # noqa: ARG002 - the caller bounds it
        if self.closed:
            raise TransportError("client is closed")
        origin = self._origins.get(url)
        if origin is None:
            origin = _Origin(url)
            if len(self._origins) < 64:
                self._origins[url] = origin
        body = b"" if json is None else jsonlib.dumps(json).encode()
        head = self._head(method, origin, headers or {}, body, json is not None)
        if self._slots is None:
            return await self._exchange(method, origin, head, body)
        async with self._slots:
            return await self._exchange(method, origin, head, body)

    async def _exchange(self, method: str, origin: _Origin, head: bytes, body: bytes) -> Response:
        conn, reused = await self._acquire(origin)
        keep = False
        try:
            conn.writer.write(head + body if body else head)
            await conn.writer.drain()
            resp, keep = await _read_response(conn.reader, method)
        except asyncio.IncompleteReadError:  # closed before the status line: on a keep-alive socket, a GET may be resent
            raise ServerDisconnected("server disconnected without sending a response.") from None
        except ConnectionError as e:
            if reused:
                raise ServerDisconnected(f"connection closed by the server: {e}") from e
            raise TransportError(str(e) or type(e).__name__) from e
        except OSError as e:
            raise TransportError(str(e) or type(e).__name__) from e
        finally:
            if keep and not self.closed:
                conn.idle_since = _SOCKETS.monotonic()
                self._idle.setdefault((origin.scheme, origin.host, origin.port), []).append(conn)
            else:
                self._open.discard(conn)
                conn.close()
        return resp

    async def _acquire(self, origin: _Origin) -> tuple[_Conn, bool]:
        idle = self._idle.get((origin.scheme, origin.host, origin.port))
        now = _SOCKETS.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now):
                return conn, True
            self._open.discard(conn)
            conn.close()
        tls_error = None
        try:
            if origin.scheme == "https":
                ctx = self._ssl or ssl.create_default_context()
                reader, writer = await asyncio.open_connection(origin.host, origin.port, ssl=ctx,
                                                               server_hostname=origin.host, limit=MAX_HEADER)
            else:
                reader, writer = await asyncio.open_connection(origin.host, origin.port, limit=MAX_HEADER)
        except ssl.SSLCertVerificationError as e:  # an OSError with errno 1: said as what it is, not "not permitted"
            tls_error = f"tls: certificate verify failed: {e.verify_message}"
        except ssl.SSLError as e:
            tls_error = f"tls: {e.reason or type(e).__name__}".replace("_", " ").lower()
        except OSError as e:
            raise ConnectError(str(e) or type(e).__name__) from e
        if tls_error is not None:  # raised outside the handler: no errno in its context for transport_reason
            raise ConnectError(tls_error)
        self.connections_opened += 1
        conn = _Conn(reader, writer)
        self._open.add(conn)
        return conn, False

    @staticmethod
    def _head(method: str, origin: _Origin, headers: dict[str, str], body: bytes, is_json: bool) -> bytes:
        lines = [f"{method} {origin.target} HTTP/1.1", f"host: {origin.host_header}"]
        names = set()
        for name, value in headers.items():
            _check_name(name)
            _check_value(value, f"header {name}")
            names.add(name.lower())
            lines.append(f"{name}: {value}")
        if "accept-encoding" not in names:
            lines.append("accept-encoding: identity")
        if "user-agent" not in names:
            lines.append("user-agent: opsconsole")
        if body or method not in ("GET", "HEAD"):
            lines.append(f"content-length: {len(body)}")
        if is_json and "content-type" not in names:
            lines.append("content-type: application/json")
        try:
            return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        except UnicodeEncodeError:
            raise TransportError("a header value is not latin-1 text") from None

    async def aclose(self) -> None:
        self.closed = True
        conns, self._open = self._open, set()
        self._idle.clear()
        for conn in conns:
            conn.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _check_name(name: str) -> None:
    if not name or not set(name) <= _TOKEN:
        raise TransportError(f"invalid header name {name[:40]!r}")


def _check_value(value: str, what: str) -> None:
    # CR, LF or NUL in anything we send would let a value start a header (or a request) of its own
    if "\r" in value or "\n" in value or "\0" in value:
        raise TransportError(f"a line break in the value of {what}, not sent")  # never echo the value: it may be a secret


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[Response, bool]:
    """One response (interim 1xx ones skipped); (response, whether the connection can be reused)."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise ProtocolError(f"response headers larger than {MAX_HEADER} bytes") from None
        except asyncio.IncompleteReadError as e:
            if not e.partial:
                raise
            raise ProtocolError("server disconnected in the middle of the response headers") from None
        status, version, headers = _parse_head(head)
        if 100 <= status < 200 and status != 101:
            continue
        break
    if status == 101:
        raise ProtocolError("server switched protocols (101)")
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if method == "HEAD" or status in _NO_BODY_STATUS:
        return Response(status, headers, b""), keep
    te = headers.get("transfer-encoding")
    try:
        if te is not None:
            codings = [c.strip().lower() for c in te.split(",")]
            if codings[-1] != "chunked" or any(c not in ("chunked", "identity") for c in codings):
                raise ProtocolError(f"unsupported transfer-encoding {te[:40]!r}")
            body = await _read_chunked(reader)
        elif "content-length" in headers:
            body = await reader.readexactly(_content_length(headers["content-length"]))
        else:
            body = await _read_to_eof(reader)
            keep = False
    except asyncio.IncompleteReadError:
        raise ProtocolError("server disconnected in the middle of the response body") from None
    return Response(status, headers, _decoded(body, headers.get("content-encoding"))), keep


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    try:
        text = head[:-4].decode("latin-1")
    except UnicodeDecodeError:  # latin-1 decodes any byte; kept for clarity
        raise ProtocolError("response headers are not text") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or parts[0] not in ("HTTP/1.1", "HTTP/1.0") or len(parts[1]) != 3 or not parts[1].isdigit():
        raise ProtocolError("malformed status line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or not set(name) <= _TOKEN or "\n" in value or "\0" in value:
            raise ProtocolError("malformed header line")
        key = name.lower()
        value = value.strip(" \t")
        if key == "content-length" and key in headers and headers[key] != value:
            raise ProtocolError("conflicting content-length headers")
        if key == "transfer-encoding" and key in headers:
            value = f"{headers[key]}, {value}"
        headers[key] = value
    return int(parts[1]), parts[0], headers


def _content_length(value: str) -> int:
    value = value.split(",")[0].strip() if "," in value and len(set(v.strip() for v in value.split(","))) == 1 \
        else value
    if not value.isdigit() or not value.isascii():
        raise ProtocolError("invalid content-length")
    n = int(value)
    if n > MAX_BODY:
        raise ProtocolError(f"body larger than {MAX_BODY // 2**20} MiB")
    return n


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts, total = [], 0
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise ProtocolError("malformed chunk size line") from None
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            raise ProtocolError("malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY:
            raise ProtocolError(f"body larger than {MAX_BODY // 2**20} MiB")
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("malformed chunk end")
    while True:  # trailers, up to the empty line
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise ProtocolError("trailers too large") from None
        if line == b"\r\n":
            return b"".join(parts)


async def _read_to_eof(reader: asyncio.StreamReader) -> bytes:
    parts, total = [], 0
    while chunk := await reader.read(256 * 1024):
        total += len(chunk)
        if total > MAX_BODY:
            raise ProtocolError(f"body larger than {MAX_BODY // 2**20} MiB")
        parts.append(chunk)
    return b"".join(parts)


def _decoded(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding.strip().lower() == "identity" or not body:
        return body
    coding = encoding.strip().lower()
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise ProtocolError(f"unsupported content-encoding {encoding[:40]!r}")
    d = zlib.decompressobj(16 + zlib.MAX_WBITS if coding != "deflate" else zlib.MAX_WBITS)
    try:
        out = d.decompress(body, MAX_BODY)
        if d.unconsumed_tail:
            raise ProtocolError(f"decoded body larger than {MAX_BODY // 2**20} MiB")
        return out + d.flush()
    except zlib.error:
        if coding == "deflate":  # some servers send raw deflate without the zlib wrapper
            try:
                return zlib.decompress(body, -zlib.MAX_WBITS)
            except zlib.error:
                pass
        raise ProtocolError(f"body is not valid {coding}") from None
