"""The simulated services' HTTP/1.1 protocol: uvicorn's h11 protocol with the console's plain requests read directly.

Under the demo's polls (~5 requests a second) h11 — parsing each request into events, validating every header of
each answer, its state machine — was most of what the simulator child spent once its app was cheap. A request of
the shape every poll has (`GET`/`PUT`/`POST`, an origin-form target, HTTP/1.1, one Host, no Connection, Expect,
Upgrade or Transfer-Encoding header, at most one Content-Length of at most 64 KiB) is read here and its answer
written in the bytes h11 writes. Anything else — and the rest of that connection — goes to h11 as before, so an odd
or hostile request gets exactly the answer it got (tests/test_sim_wire.py compares the two on the same sockets).
Keep-alive (the server's 75 s), shutdown and the server's bookkeeping are uvicorn's own.

`FleetServer` sleeps between requests: uvicorn's server wakes once a second to refresh its Date header (and see
whether it should stop), a wake of its own beside the console's polls; here each request dates its answer when
the second has changed, and the server wakes only to stop.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import unquote

import h11

from email.utils import formatdate

from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol, RequestResponseCycle

from console.clock import WallClock
from console.embedded_server import EmbeddedServer

MAX_HEAD = 16 * 1024  # h11's limit on an incomplete request head: beyond it, h11 answers (400)
MAX_BODY = 64 * 1024  # uvicorn's high-water mark: a larger body is streamed by h11
_REQUEST_LINE = re.compile(rb"(GET|PUT|POST) (/[\x21-\x7e]*) HTTP/1\.1")
# h11's header field: a token, optional whitespace, a value of visible characters with inner spaces or tabs
_FIELD = re.compile(rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*((?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?)[ \t]*")
_FALL_BACK = {b"connection", b"expect", b"upgrade", b"transfer-encoding", b"te", b"trailer"}


class FleetServer(EmbeddedServer):
    """An EmbeddedServer that never wakes between requests (its SimHTTP connections date their answers)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.stopping = asyncio.Event()

    async def main_loop(self) -> None:
        await self.stopping.wait()

    def exit(self) -> None:
        super().exit()
        self.stopping.set()


_CLOCK = WallClock()
_date: list = [None, []]  # [the second it is for, the Date header of that second]


def dated(state, config) -> None:
    """The server's default headers (its Date) as uvicorn's once-a-second tick sets them, for this second."""
    second = int(_CLOCK.now())
    if second != _date[0]:
        _date[:] = [second, [(b"date", formatdate(second, usegmt=True).encode())]]
    state.default_headers = (_date[1] if config.date_header else []) + config.encoded_headers


class SimHTTP(H11Protocol):
    """uvicorn's H11Protocol (pass the class as `uvicorn.Config(http=...)`); plain requests never reach h11."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.plain = True  # until a request is not of the plain shape: then h11 has this connection to its end
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        dated(self.server_state, self.config)
        if not self.plain:
            return super().data_received(data)
        self._unset_keepalive_if_required()
        self.buffer += data
        if self.cycle is None or self.cycle.response_complete:  # else the next request waits for this answer
            self._next()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.plain and self.buffer and not self.transport.is_closing():
            self._next()  # a request sent before the last answer (pipelined)

    def _next(self) -> None:
        """Start the buffered request if it is whole and plain; hand everything to h11 if it is not plain."""
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD:
                self._to_h11()
            return
        request = _plain(bytes(buffer[:end])) if end <= MAX_HEAD else None
        if request is None:
            self._to_h11()
            return
        method, target, headers, length = request
        if len(buffer) < end + 4 + length:
            return  # the body is still coming
        body = bytes(buffer[end + 4:end + 4 + length])
        del buffer[:end + 4 + length]
        raw_path, _, query = target.partition(b"?")
        self.headers = headers
        self.scope = {
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": method,
            "root_path": self.root_path,
            "path": self.root_path + unquote(raw_path.decode("ascii")),
            "raw_path": self.root_path.encode("ascii") + raw_path,
            "query_string": query,
            "headers": headers,
            "state": self.app_state.copy(),
        }
        self.cycle = PlainCycle(self, body)
        task = self.loop.create_task(self.cycle.run_asgi(self.app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _to_h11(self) -> None:
        self.plain = False
        data, self.buffer = bytes(self.buffer), bytearray()
        if self.cycle is not None:
            # requests were answered here already: h11 takes the connection as it would be after them (it keeps
            # only the peer's HTTP version from them, which frames its own error answers)
            self.conn.receive_data(b"GET / HTTP/1.1\r\nHost: sim\r\n\r\n")
            while self.conn.next_event() is not h11.NEED_DATA and self.conn.their_state is not h11.DONE:
                pass
            self.conn.send(h11.Response(status_code=204, headers=[]))
            self.conn.send(h11.EndOfMessage())
            self.conn.start_next_cycle()
        super().data_received(data)


def _plain(head: bytes) -> tuple[str, bytes, list[tuple[bytes, bytes]], int] | None:
    """(method, target, headers as h11 gives them, body length) of a request head of the plain shape, else None."""
    lines = head.split(b"\r\n")
    line = _REQUEST_LINE.fullmatch(lines[0])
    if line is None:
        return None
    headers, hosts, lengths = [], 0, []
    for raw in lines[1:]:
        field = _FIELD.fullmatch(raw)
        if field is None:
            return None  # an obsolete line fold, a bare LF, a control character: h11 decides
        name = field.group(1).lower()
        if name in _FALL_BACK:
            return None
        if name == b"host":
            hosts += 1
        elif name == b"content-length":
            lengths.append(field.group(2))
        headers.append((name, field.group(2)))
    if hosts != 1 or len(lengths) > 1 or (lengths and not (lengths[0].isdigit() and len(lengths[0]) <= 6)):
        return None
    length = int(lengths[0]) if lengths else 0
    if length > MAX_BODY:
        return None
    return line.group(1).decode("ascii"), line.group(2), headers, length


class PlainCycle(RequestResponseCycle):
    """One plain request's ASGI cycle (uvicorn's, run_asgi and its 500 included), its answer framed as h11 frames it."""

    def __init__(self, protocol: SimHTTP, body: bytes) -> None:
        super().__init__(scope=protocol.scope, conn=protocol.conn, transport=protocol.transport, flow=protocol.flow,
                         logger=protocol.logger, access_logger=protocol.access_logger,
                         access_log=protocol.access_log, default_headers=protocol.server_state.default_headers,
                         message_event=asyncio.Event(), on_response=protocol.on_response_complete)
        self.body = body
        self.more_body = False
        self.waiting_for_100_continue = False
        self.length: int | None = None  # the answer's Content-Length; None: chunked, as h11 sends it then
        self.sent = 0
        self.close = False

    async def send(self, message) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.response_started:
            if message["type"] != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{message['type']}'.")
            self.response_started = True
            self.transport.write(self._head(message["status"], self.default_headers + list(message.get("headers", []))))
        elif not self.response_complete:
            if message["type"] != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{message['type']}'.")
            body = message.get("body", b"")
            self.sent += len(body)
            if self.length is not None and self.sent > self.length:
                raise RuntimeError("Too much data for declared Content-Length")  # h11 refuses it likewise
            if self.length is None and body:
                self.transport.write(b"%x\r\n%s\r\n" % (len(body), body))
            elif body:
                self.transport.write(body)
            if not message.get("more_body", False):
                if self.length is not None and self.sent < self.length:
                    raise RuntimeError("Too little data for declared Content-Length")
                self.response_complete = True
                self.message_event.set()
                if self.length is None:
                    self.transport.write(b"0\r\n\r\n")
        else:
            raise RuntimeError(f"Unexpected ASGI message '{message['type']}' sent, after response already completed.")
        if self.response_complete:
            if self.close or not self.keep_alive:
                self.transport.close()
            self.on_response()

    def _head(self, status: int, headers: list) -> bytes:
        """Status line and headers as h11 writes them (names as given; a length-less answer chunked)."""
        out = [b"HTTP/1.1 %d %s\r\n" % (status, STATUS_PHRASES[status])]
        for name, value in headers:
            name, value = bytes(name), bytes(value)
            low = name.lower()
            if _FIELD.fullmatch(name + b": " + value) is None:
                raise RuntimeError(f"illegal header {name!r}")  # h11 refuses to send it likewise
            if low == b"content-length":
                if self.length is not None or not value.isdigit():
                    raise RuntimeError("conflicting or bad Content-Length")
                self.length = int(value)
            elif low == b"transfer-encoding":
                raise RuntimeError("Transfer-Encoding from the app")  # never sent by the simulator's apps
            elif low == b"connection" and b"close" in [t.strip() for t in value.lower().split(b",")]:
                self.close = True
            out.append(b"%s: %s\r\n" % (name, value))
        if self.length is None and (status < 200 or status in (204, 304)):
            self.length = 0  # no body, as h11 frames these
        elif self.length is None:
            out.append(b"Transfer-Encoding: chunked\r\n")
        out.append(b"\r\n")
        return b"".join(out)

    async def receive(self):
        if not self.disconnected and not self.response_complete:
            if self.body is not None:  # the whole body, read before the app started
                message = {"type": "http.request", "body": self.body, "more_body": False}
                self.body = None
                return message
            await self.message_event.wait()  # then nothing more but the end (an answer or the client gone)
            self.message_event.clear()
        return {"type": "http.disconnect"}

