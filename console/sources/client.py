"""The HTTP client a service is polled with: aiohttp's, wrapped so every failure is one plain line and bodies are capped.

Why aiohttp and not httpx for polls: at 200 services httpx + httpcore cost about half the console's CPU per
request (bench/http_client.py: ~10x aiohttp's, whose HTTP parser is C). aiohttp is already here (textual-serve
needs it), keeps connections alive per host, goes through a proxy when asked (`poll_client`), and its parser
is strict about framing. This module adds what a poll needs on top:

* redirects are never followed (a 3xx is an answer like any other status);
* bodies are capped at `MAX_BODY` (after decoding: a gzip bomb stops there), headers at `MAX_HEADER`;
* every failure is a `TransportError` whose message is one lower-case line of ours, never the server's bytes;
* no deadline of its own: the caller bounds the whole request (console/sources/transport.py). A request
  cancelled half way releases its connection closed, so a half-read response is never reused.
"""

from __future__ import annotations

import json as jsonlib
import os
import socket
import ssl
import urllib.request
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

from .aiohttp_import import aiohttp as aiohttp_module

if TYPE_CHECKING:  # imported on the first poll (aiohttp_import), not before the first frame (~90 ms of start-up)
    import aiohttp

MAX_HEADER = 64 * 1024  # one header line (status line included); aiohttp checks each field against it
MAX_BODY = 64 * 1024 * 1024  # a /metrics body larger than this is an error, not an out-of-memory
KEEPALIVE = 15.0  # seconds an idle connection is kept


class TransportError(Exception):
    """The request failed below HTTP: connecting, sending, or reading a well-formed response."""


class ConnectError(TransportError):
    """No connection: refused, unresolvable, TLS refused."""


class ProtocolError(TransportError):
    """The server's bytes are not a well-formed HTTP/1.1 response (or exceed a cap)."""


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


class Client:
    """One service's pooled connections (at most `max_connections` at once; more requests wait for one)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, max_connections: int = 8,
                 proxy: str | None = None) -> None:
        self._ssl = ssl_context
        self._proxy = proxy
        self._max = max_connections
        self._session: aiohttp.ClientSession | None = None  # made on first use: it needs the running loop
        self.connections_opened = 0  # for tests and benches: keep-alive is working when this stays small
        self.closed = False

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            aiohttp = aiohttp_module()

            trace = aiohttp.TraceConfig()
            trace.on_connection_create_end.append(self._counted)
            connector = aiohttp.TCPConnector(limit=self._max, ssl=self._ssl if self._ssl is not None else True,
                                             keepalive_timeout=KEEPALIVE)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                trace_configs=[trace], cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True,
                skip_auto_headers=("User-Agent",), headers={"User-Agent": "opsconsole"},
                max_line_size=MAX_HEADER, max_field_size=MAX_HEADER)
        return self._session

    async def _counted(self, *_args) -> None:
        self.connections_opened += 1

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                      timeout: float | None = None, json=None) -> Response:  # noqa: ARG002 - the caller bounds it
        aiohttp = aiohttp_module()  # the except clause below names its errors

        if self.closed:
            raise TransportError("client is closed")
        for name, value in (headers or {}).items():
            # CR, LF or NUL would let a value start a header (or a request) of its own; never echo the value
            if "\r" in value or "\n" in value or "\0" in value:
                raise TransportError(f"a line break in the value of header {name}, not sent")
        try:
            async with self._open().request(method, url, headers=headers, json=json, allow_redirects=False,
                                            proxy=self._proxy) as r:
                body = await _capped(r)
                return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, body)
        except (aiohttp.ClientError, ssl.SSLError, ValueError) as e:
            error = _translated(e)
        raise error  # outside the handler: no chained context (an errno) for transport_reason to misread

    async def aclose(self) -> None:
        self.closed = True
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


def _translated(e: Exception) -> TransportError:
    """aiohttp's failure as ours: one lower-case line naming the fault, never the server's bytes."""
    aiohttp = aiohttp_module()

    if isinstance(e, TransportError):
        return e
    if isinstance(e, aiohttp.ClientConnectorCertificateError):
        return ConnectError(f"tls: {_tls_reason(e.certificate_error)}")
    if isinstance(e, aiohttp.ClientConnectorError):
        os_error = e.os_error
        if isinstance(os_error, ssl.SSLError):
            return ConnectError(f"tls: {_tls_reason(os_error)}")
        if isinstance(os_error, socket.gaierror):
            return ConnectError("cannot resolve host")
        return ConnectError(os.strerror(os_error.errno).lower() if os_error.errno else type(os_error).__name__)
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return ServerDisconnected("server disconnected without sending a response.")
    if isinstance(e, aiohttp.ClientPayloadError):
        return ProtocolError(_payload_reason(e))
    if isinstance(e, aiohttp.ClientResponseError):  # the parser refused the status line or a header
        return ProtocolError(_parse_reason(e))
    if isinstance(e, aiohttp.InvalidURL):
        return TransportError("invalid url")
    if isinstance(e, ssl.SSLError):
        return ConnectError(f"tls: {_tls_reason(e)}")
    if isinstance(e, ValueError):  # aiohttp refused to build the request (a bad header name, say)
        return TransportError("request not sent: invalid header")
    return TransportError(type(e).__name__)


async def _capped(r: aiohttp.ClientResponse) -> bytes:
    parts, total = [], 0
    while chunk := await r.content.read(256 * 1024):
        total += len(chunk)
        if total > MAX_BODY:
            r.close()  # the rest is never read: the connection is dropped, not reused
            raise ProtocolError(f"body larger than {MAX_BODY // 2**20} MiB")
        parts.append(chunk)
    return b"".join(parts)


def _tls_reason(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {e.verify_message}"
    return str(getattr(e, "reason", None) or type(e).__name__).replace("_", " ").lower()


def _payload_reason(e: aiohttp.ClientPayloadError) -> str:
    text = str(e).lower()
    if "content-encoding" in text or "decompress" in text or "gzip" in text or "deflate" in text:
        return "body could not be decoded (content-encoding)"
    if "chunk" in text:
        return "malformed chunked body"
    return "server disconnected in the middle of the response body"


def _parse_reason(e: aiohttp.ClientResponseError) -> str:
    # aiohttp's message names the fault, then quotes the offending bytes after a colon: keep the name only
    fault = str(e.message).split("\n", 1)[0].split(":", 1)[0].strip().lower()
    if fault.startswith("got more than"):  # a header line longer than the cap
        return f"response headers larger than {MAX_HEADER} bytes"
    return fault or "malformed response"


def poll_client(url: str, tls: Callable[[], ssl.SSLContext]) -> Client:
    """A small pool of the service's own, through the proxy HTTP(S)_PROXY / NO_PROXY name for its URL, if any.

    Looked up once here: aiohttp's own `trust_env` looks it up on every request, in a worker thread (as much
    CPU again as the request). `tls()` (the shared context, `default_tls`) is called only when the URL or its
    proxy is https: loading the CA bundle costs about a MiB that plain-HTTP services never use."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
        proxy = None
    needs_tls = parts.scheme == "https" or (proxy or "").lower().startswith("https")
    return Client(tls() if needs_tls else None, max_connections=8, proxy=proxy)


def default_tls() -> ssl.SSLContext:
    """A verifying TLS context (the engine shares one between its poll clients), as httpx builds its default one (certifi's CA bundle, or
    SSL_CERT_FILE / SSL_CERT_DIR), without importing httpx: building one loads the bundle (~30 ms, ~1 MiB)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi  # here: only an https service needs the bundle

    return ssl.create_default_context(cafile=certifi.where())

