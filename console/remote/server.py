"""`opsconsole serve`: a headless Session served over HTTP — the state stream, the command endpoint and the view."""

from __future__ import annotations

import asyncio
import logging
import socket
import zlib
from dataclasses import asdict
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from console.facade import MUTATING, changes, refused
from console.state import ConsoleState

from . import codec
from .auth import Grant, Tokens, viewer_name
from .rewinds import ViewerRewinds

log = logging.getLogger(__name__)
QUEUE = 32  # messages a slow viewer may lag behind; past it, it is sent the full state again instead
KEEPALIVE = 10.0  # seconds between comment lines on a quiet stream (a dead TCP peer is noticed by the write)
NOT_REMOTE = {"screenshot.write": "A screenshot is written by the viewer, not the collector"}
VIEWER_HEADER = "x-opsconsole-viewer"  # the viewer's own id (one per attach process): whose rewind a request moves
_RESYNC, _END = object(), object()


class Collector:
    """Encodes each published state once (a full document and the diff from the previous one) for every viewer."""

    def __init__(self, session, tokens: Tokens) -> None:
        self.session = session
        self.tokens = tokens
        self.seq = 0
        self.doc: dict[str, Any] | None = None
        self._viewers: set[asyncio.Queue] = set()
        self._streams: dict[str, set[asyncio.Queue]] = {}  # a viewer's open streams, by its rewinds key
        self.rewinds = ViewerRewinds(session, tell=self._tell)
        self.closed = False  # stopping: no new stream is opened
        self.sent_bytes = 0  # on the wire, compressed when the viewer accepts it: what the bench reads
        self._texts: dict = {}  # the endpoints' texts of the last state (state_doc.dumps_parts)
        self._differ = codec.Differ()  # the recorder's mechanism: each state's unchanged parts are the previous one's
        self._unsubscribe = session.subscribe(self._on_state)

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def backlog(self) -> int:
        """Messages waiting for the slowest viewer (0: every stream has taken everything published)."""
        return max((q.qsize() for q in self._viewers), default=0)

    def close(self) -> None:
        """Stop publishing and end every stream (each viewer reads the end and reconnects by itself)."""
        self.closed = True
        self._unsubscribe()
        for q in list(self._viewers):
            while not q.empty():
                q.get_nowait()
            q.put_nowait(_END)

    def _on_state(self, state: ConsoleState) -> None:
        self.rewinds.expire()
        state.viewers = len(self._viewers)  # presence: the header of every viewer says how many watch
        doc = self._differ.take(codec.dumps_parts(codec.to_doc(state), texts=self._texts))  # changed parts, parsed
        if self.doc is None:
            self.doc, self.seq = doc, self.seq + 1
            return
        patch = codec.diff(self.doc, doc)
        self.doc = doc
        if patch:
            self._send(patch)

    def _presence(self, viewers: int) -> None:
        """A viewer came or went: everyone's header says so now, not at the next tick."""
        self.session.state.viewers = viewers
        if self.doc is not None and self.doc.get("viewers") != viewers:
            self.doc = {**self.doc, "viewers": viewers}  # a new document: its parts are the differ's, never changed
            self._send({"viewers": ["=", viewers]})

    def _send(self, patch: dict) -> None:
        self.seq += 1
        line = codec.dumps({"t": "diff", "seq": self.seq, "patch": patch})
        for q in list(self._viewers):
            _put(q, line)

    def _tell(self, key: str, message: str) -> None:
        """One viewer's streams only: its Rewind was closed here (unused too long), so it shows live again."""
        line = codec.dumps({"t": "live", "message": message})
        for q in list(self._streams.get(key, ())):
            if q.full():  # fell behind: the full state next, and this after it (never dropped)
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(_RESYNC)
            q.put_nowait(line)

    def full(self) -> str:
        if self.doc is None:  # nothing published yet: the state as it is is the base of the next diff
            self.doc, self.seq = codec.normalized(codec.to_doc(self.session.state)), self.seq + 1
        return codec.dumps({"t": "full", "seq": self.seq, "protocol": codec.PROTOCOL, "doc": self.doc})

    # --- HTTP -----------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/view", self.view, methods=["GET"]),
                                 Route("/api/stream", self.stream, methods=["GET"]),
                                 Route("/api/command", self.command, methods=["POST"])])

    def _grant(self, request: Request) -> Grant | None:
        grant = self.tokens.grant(request.headers.get("authorization"))
        if grant is not None and request.headers.get("x-opsconsole-role") == "read":
            grant = Grant("read", grant.name or "read-only")  # `attach --read-only`: refused here, and audited
        return grant

    async def view(self, request: Request) -> Response:
        grant = self._grant(request)
        if grant is None:
            return _unauthorized()
        view = asdict(self.session.view())
        if grant.role == "read":
            view["read_only"] = True  # the viewer's keys say so before it asks
        return JSONResponse({"protocol": codec.PROTOCOL, "view": view, "role": grant.role,
                             "notices": [list(n) for n in self.session.notices()]})

    async def stream(self, request: Request) -> Response:
        grant = self._grant(request)
        if grant is None:
            return _unauthorized()
        if self.closed:
            return JSONResponse({"ok": False, "refused": True, "message": "the collector is stopping"}, status_code=503)
        gzip = "gzip" in request.headers.get("accept-encoding", "")
        q: asyncio.Queue = asyncio.Queue(maxsize=QUEUE)
        key = self.rewinds.key(request.headers.get(VIEWER_HEADER), grant.name)
        if key is not None:
            self.rewinds.drop(key)  # a viewer (re)connecting starts live: its rewind, if any, is closed
            self._streams.setdefault(key, set()).add(q)
        self._presence(len(self._viewers) + 1)
        self._viewers.add(q)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        if gzip:
            headers["Content-Encoding"] = "gzip"
        return StreamingResponse(self._events(q, gzip, key), media_type="text/event-stream", headers=headers)

    async def _events(self, q: asyncio.Queue, gzip: bool, key: str | None = None) -> AsyncIterator[bytes]:
        # one gzip stream per viewer, flushed per event: repeated keys and timestamps cost a few bytes each tick
        z = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None

        def frame(text: str) -> bytes:
            raw = text.encode()
            out = z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH) if z is not None else raw
            self.sent_bytes += len(out)
            return out

        try:
            yield frame(f"data: {self.full()}\n\n")
            while True:
                try:
                    msg = await asyncio.wait_for(q.get(), KEEPALIVE)
                except TimeoutError:
                    yield frame(":\n\n")
                    continue
                if msg is _END:
                    return
                yield frame(f"data: {self.full() if msg is _RESYNC else msg}\n\n")
        finally:
            if q in self._viewers:  # the viewer left, however abruptly: it no longer counts
                self._viewers.discard(q)
                self._presence(len(self._viewers))
            streams = self._streams.get(key)
            if streams is not None:
                streams.discard(q)
                if not streams:  # its last stream: the viewer is gone, and so is its rewind
                    del self._streams[key]
                    self.rewinds.drop(key)

    async def command(self, request: Request) -> Response:
        grant = self._grant(request)
        if grant is None:
            return _unauthorized()
        try:
            cmd = await request.json()
        except ValueError:
            return JSONResponse({"ok": False, "refused": False, "message": "the command is not JSON"}, status_code=400)
        if not isinstance(cmd, dict) or not isinstance(cmd.get("cmd"), str):
            return JSONResponse({"ok": False, "refused": False, "message": "expected {\"cmd\": ...}"}, status_code=400)
        name = cmd["cmd"]
        by = viewer_name(request.headers.get("x-opsconsole-user"), grant)
        if name != "rewind":  # rewind's `by` is seconds (it is not attributed: it changes nothing here)
            cmd = {**cmd, "by": by}  # the collector says who: a viewer's own "by" is overwritten
        if name in NOT_REMOTE:
            return JSONResponse(refused(NOT_REMOTE[name]))
        key = self.rewinds.key(request.headers.get(VIEWER_HEADER), grant.name)
        display = self.rewinds.of(key)  # this viewer's own rewind, or live: never the collector's own display
        # a read token's change is refused here; a rewound viewer's by the session (as the console's own display's)
        if name in MUTATING and grant.role != "operate":
            reason = f"read-only viewer ({grant.name}): nothing sent"
            if self.session.executor is not None:
                self.session.executor.refuse_command(cmd, reason, by, "an attached viewer")
            return JSONResponse(refused(f"{changes(name)} are refused: {reason}"))
        try:
            if name == "rewind":  # a read viewer may rewind: it changes nothing on the collector
                return _answer(await self.rewinds.move(key, cmd))
            return _answer(await self.session.request(cmd, display=display))
        except (TypeError, ValueError, AttributeError, IndexError) as e:  # a malformed field from the network
            log.info("bad command %s from %s: %s", name, by, type(e).__name__)
            return JSONResponse({"ok": False, "refused": False, "message": f"{name}: malformed command"})


def _answer(result: dict) -> Response:
    """A command's result as the codec writes it (a figure may be NaN: starlette's JSONResponse refuses those)."""
    return Response(codec.dumps(result), media_type="application/json")


def _put(q: asyncio.Queue, line: str) -> None:
    if q.full():  # fell behind: it gets the whole state next, not a gap
        while not q.empty():
            q.get_nowait()
        q.put_nowait(_RESYNC)
    else:
        q.put_nowait(line)


def _unauthorized() -> Response:
    return JSONResponse({"ok": False, "refused": True, "message": "missing or wrong token"}, status_code=401)


class Served:
    """A started session served on host:port (port 0: any free one, read back from `port` once started)."""

    def __init__(self, session, tokens: Tokens, host: str, port: int) -> None:
        self.session, self.tokens, self.host, self.port = session, tokens, host, port
        self.collector: Collector | None = None
        self._server = None
        self._web: asyncio.Task | None = None

    async def start(self) -> None:
        import uvicorn

        from ..embedded_server import serve

        await self.session.start()
        await self.session.start_mitigations()
        self.collector = Collector(self.session, self.tokens)
        config = uvicorn.Config(self.collector.app(), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        try:
            sock = _bind(self.host, self.port)  # here, not in uvicorn (which exits the process when it cannot)
        except OSError:
            await self.session.stop()
            raise
        self.port = sock.getsockname()[1]
        try:
            self._server, self._web = await serve(config, [sock], "collector-http")
        except RuntimeError:
            sock.close()
            await self.session.stop()
            raise

    async def wait(self) -> None:
        await self._web

    async def stop(self) -> None:
        if self.collector is not None:
            self.collector.close()  # the streams end first: uvicorn then has no response to cancel
        if self._server is not None:
            self._server.exit()
        if self._web is not None:
            await asyncio.gather(self._web, return_exceptions=True)
        if self.collector is not None:
            await self.collector.rewinds.close()
        await self.session.stop()


def _bind(host: str, port: int) -> socket.socket:
    host = "127.0.0.1" if host == "localhost" else host
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restarted collector gets its port back
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    return sock


async def serve(session, tokens: Tokens, host: str, port: int) -> None:
    """`opsconsole serve`: poll and serve until interrupted."""
    served = Served(session, tokens, host, port)
    await served.start()
    print(f"opsconsole collector on http://{host}:{served.port}/ ({session.view().environment}); "
          f"viewers: opsconsole attach http://{host}:{served.port}/", flush=True)
    engine = asyncio.create_task(session.run(), name="collector-engine")
    try:
        await asyncio.wait([engine, asyncio.ensure_future(served.wait())], return_when=asyncio.FIRST_COMPLETED)
    finally:
        engine.cancel()
        await asyncio.gather(engine, return_exceptions=True)
        await served.stop()
