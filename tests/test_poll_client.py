"""The poll client (aiohttp) against a raw loopback server: keep-alive, framing, hostile bytes, deadlines, redirects."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from console.clock import VirtualClock
from console.config.schema import Auth, Service
from console.sources import build_source, client as poll_client

SECRET = "s3cr3t-Pa55word"
HEADER = Auth(type="header", header="x-api-key", value_env="RAW_KEY")
BODY = b'# TYPE up_total counter\nup_total{a="b"} 3\n'


class RawServer:
    """Answers each request with `answer(request_head, connection_number)` → bytes, (bytes, "close") to close
    after them, or None to close without answering.

    Records every request head and how many connections were accepted."""

    def __init__(self, answer, tls=None) -> None:
        self.answer = answer
        self.tls = tls  # an ssl.SSLContext: serve HTTPS
        self.requests: list[bytes] = []
        self.connections = 0
        self.url = ""
        self._server = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        scheme = "https" if self.tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader, writer) -> None:
        self.connections += 1
        n = self.connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.requests.append(head)
                out = self.answer(head, n)
                if asyncio.iscoroutine(out):
                    out = await out
                if out is None:
                    return
                out, close = out if isinstance(out, tuple) else (out, None)
                writer.write(out)
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()


def ok(body: bytes = BODY, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


def service(url: str, timeout: float = 1.0) -> Service:
    return Service(name="svc", kind="scrape", url=url, auth=HEADER, timeout=timeout)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("RAW_KEY", SECRET)


@pytest.fixture
async def client():
    async with poll_client.Client() as c:
        yield c


async def poll(url: str, client, timeout: float = 1.0):
    src = build_source(service(url, timeout), client, VirtualClock())
    (obs,) = await src.poll_due(src.next_due())
    if obs.error is not None:
        assert SECRET not in obs.error and "\n" not in obs.error and "\r" not in obs.error
    return obs


def values(obs) -> dict:
    return {s.labels["__name__"]: s.value for s in obs.samples}


async def test_polls_reuse_one_keep_alive_connection_and_send_the_credentials(client):
    async with RawServer(lambda head, n: ok()) as srv:
        for _ in range(5):
            assert values(await poll(srv.url, client)) == {"up_total": 3.0}
    assert srv.connections == 1 and len(srv.requests) == 5
    head = srv.requests[0].decode()
    assert head.startswith("GET /metrics HTTP/1.1\r\n")
    assert f"\r\nx-api-key: {SECRET}\r\n" in head and f"\r\nhost: {srv.url.split('//')[1]}\r\n" in head.lower()


async def test_a_connection_the_server_closed_after_answering_is_replaced_without_an_error(client):
    async with RawServer(lambda head, n: ok(extra="connection: close\r\n")) as srv:
        for _ in range(3):
            assert values(await poll(srv.url, client)) == {"up_total": 3.0}
    assert srv.connections == 3


async def test_a_keep_alive_connection_dropped_silently_is_retried_once_on_a_fresh_one(client):
    def answer(head, n):
        return ok() if len(srv.requests) != 2 else None  # the second request: closed without a word

    async with RawServer(answer) as srv:
        assert (await poll(srv.url, client)).error is None
        assert values(await poll(srv.url, client)) == {"up_total": 3.0}
    assert len(srv.requests) == 3 and srv.connections == 2


async def test_chunked_body_with_extensions_and_trailers(client):
    chunks = b"".join(f"{len(BODY[i:i + 7]):x};ext=1\r\n".encode() + BODY[i:i + 7] + b"\r\n"
                      for i in range(0, len(BODY), 7))
    resp = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\nx-trailer: y\r\n\r\n"
    async with RawServer(lambda head, n: resp) as srv:
        for _ in range(2):
            assert values(await poll(srv.url, client)) == {"up_total": 3.0}
    assert srv.connections == 1


async def test_a_body_without_length_ends_with_the_connection_and_gzip_is_decoded(client):
    answers = [(b"HTTP/1.1 200 OK\r\n\r\n" + BODY, "close"), ok(gzip.compress(BODY), "content-encoding: gzip\r\n")]
    async with RawServer(lambda head, n: answers[len(srv.requests) - 1]) as srv:
        assert values(await poll(srv.url, client)) == {"up_total": 3.0}
        assert values(await poll(srv.url, client)) == {"up_total": 3.0}
    assert srv.connections == 2


@pytest.mark.parametrize("response, message", [
    (b"HTTP/1.1 2OO OK\r\n\r\n", "unreachable: bad status line"),
    (b"ICY 200 OK\r\n\r\n", "unreachable: bad status line"),
    (b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n", "unreachable: invalid header token"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
     "unreachable: duplicate content-length"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n", "unreachable: invalid character in content-length"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "unreachable: invalid character in chunk size"),
    # read to the end of the connection (RFC 9112 6.3), which this server keeps open: the deadline ends it
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", "timeout after 1s"),
    ((b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort", "close"),
     "unreachable: server disconnected in the middle of the response body"),
    (b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\n\r\nnope", "unreachable: body could not be decoded (content-encoding)"),
    (b"HTTP/1.1 200 OK\r\nx: " + b"a" * 70_000 + b"\r\n\r\n", "unreachable: response headers larger than 65536 bytes"),
    (b"HTTP/1.1 500 \x1b[31mred\r\ncontent-length: 16\r\n\r\n\x1b]0;title\x07boom\x00!",
     "HTTP 500: boom !"),  # NUL → a space, as clean() does
], ids=lambda v: None if isinstance(v, str) else "")
async def test_hostile_bytes_are_one_line_errors(client, response, message):
    async with RawServer(lambda head, n: response if len(srv.requests) == 1 else ok()) as srv:
        assert (await poll(srv.url, client)).error == message
        # the connection that carried them is never reused: the next poll reads a clean answer
        assert values(await poll(srv.url, client)) == {"up_total": 3.0}


async def test_an_empty_answer_on_a_fresh_connection_says_the_server_disconnected(client):
    async with RawServer(lambda head, n: None) as srv:
        obs = await poll(srv.url, client)
    assert obs.error == "unreachable: server disconnected without sending a response."
    assert len(srv.requests) == 2  # a GET is sent once more, as with httpx


async def test_redirects_are_answers_never_followed(client):
    resp = b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/steal\r\ncontent-length: 5\r\n\r\nmoved"
    async with RawServer(lambda head, n: resp) as srv:
        assert (await poll(srv.url, client)).error == "HTTP 302: moved"
    assert len(srv.requests) == 1


async def test_a_secret_with_a_line_break_is_never_sent(client, monkeypatch):
    monkeypatch.setenv("RAW_KEY", "k3y-part-one\r\nx-injected: forged-value")
    async with RawServer(lambda head, n: ok()) as srv:
        src = build_source(service(srv.url), client, VirtualClock())
        (obs,) = await src.poll_due(src.next_due())
    assert obs.error == "unreachable: a line break in the value of header x-api-key, not sent"
    assert srv.requests == []


async def test_a_drip_fed_body_costs_one_deadline_and_its_connection(client):
    def drip(head, n):  # the first connection: headers, then the body never comes
        return ok() if n > 1 else b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nx"

    async with RawServer(drip) as srv:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert (await poll(srv.url, client, timeout=0.3)).error == "timeout after 0.3s"
        assert loop.time() - t0 < 1.0
        assert values(await poll(srv.url, client)) == {"up_total": 3.0}
    assert srv.connections == 2  # the half-read connection was closed, not reused


async def test_connection_refused(client):
    async with RawServer(lambda head, n: ok()) as srv:
        url = srv.url
    assert (await poll(url, client)).error == "unreachable: connection refused"


async def test_requests_beyond_the_pool_wait_for_a_connection():
    async with poll_client.Client(max_connections=2) as c:
        gate = asyncio.Event()
        busy = []

        async def answer(head, n):
            busy.append(n)
            await gate.wait()
            return ok()

        async with RawServer(answer) as srv:
            tasks = [asyncio.create_task(c.request("GET", srv.url + "/metrics")) for _ in range(5)]
            while len(busy) < 2:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            assert len(busy) == 2  # the other three wait for a slot
            gate.set()
            assert [r.status_code for r in await asyncio.gather(*tasks)] == [200] * 5
        assert srv.connections == 2


async def test_https_with_the_callers_trust_and_a_refused_certificate(tmp_path):
    import ssl

    from tests.test_prometheus_backend import self_signed

    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with RawServer(lambda head, n: ok(), tls=server_tls) as srv:
        async with poll_client.Client(trusting) as c:
            for _ in range(3):
                assert values(await poll(srv.url, c)) == {"up_total": 3.0}
            assert c.connections_opened == 1  # keep-alive over TLS too
        async with poll_client.Client(ssl.create_default_context()) as c:  # does not trust the self-signed one
            obs = await poll(srv.url, c)
    assert obs.error == "unreachable: tls: certificate verify failed: self-signed certificate"
