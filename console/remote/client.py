"""RemoteSession: the Session façade of a collector reached over HTTP (`opsconsole attach URL`)."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from typing import Any, Callable

import httpx

from console.clock import WallClock, hms, utc_iso
from console.display import at_now
from console.facade import MUTATING, StartError, View, failed, ok, refused
from console.incidents.model import whoami
from console.paths import data_dir
from console.safe_text import Scrubber
from console.state import ConsoleState

from . import codec

log = logging.getLogger(__name__)


class RemoteError(StartError):
    """The collector cannot be attached to: one line for the user."""


class Resync(Exception):
    """The stream skipped a message or sent one that does not fit: reconnect for the full state."""


class RemoteSession:
    """The façade over a collector: view() and commands over HTTP, states from its stream (full, then diffs)."""

    mode = "live"
    attached = True  # a viewer of a collector: quitting it loses nothing (screens/app.py asks no confirmation)

    def __init__(self, url: str, *, token: str | None = None, read_only: bool = False, user: str | None = None,
                 retry_max: float = 5.0, transport: httpx.AsyncBaseTransport | None = None,
                 viewer_id: str | None = None) -> None:
        if not re.match(r"https?://", url):
            raise RemoteError(f"{url!r}: expected http://HOST:PORT/ (the address `opsconsole serve` prints)")
        self.url = url.rstrip("/")
        self.read_only = read_only
        self.retry_max = retry_max
        self.wall = WallClock()
        self._token = token
        # an HTTP header is ASCII: the collector keeps only these characters of it anyway (auth.viewer_name)
        headers = {"X-Opsconsole-User": re.sub(r"[^A-Za-z0-9@._+-]", "", user or whoami())[:64]}
        # whose rewind a request moves on the collector: one id per viewer (the collector keeps a Rewind by it)
        self.viewer_id = viewer_id or secrets.token_hex(8)
        headers["X-Opsconsole-Viewer"] = self.viewer_id
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if read_only:
            headers["X-Opsconsole-Role"] = "read"  # the collector refuses (and audits) this viewer's changes
        self._client = httpx.AsyncClient(base_url=self.url, headers=headers, transport=transport,
                                         timeout=httpx.Timeout(10.0, read=30.0), follow_redirects=False)
        self._view: View | None = None
        self._role = "operate"
        self._notices: list[tuple[str, str]] = []
        self._doc: dict[str, Any] | None = None
        self._seq = 0
        self._state: ConsoleState | None = None  # live: what the stream says (marked when the collector is lost)
        self._rewound_doc: dict[str, Any] | None = None  # while rewound: the state the collector answered, as sent
        self._rewound: ConsoleState | None = None
        self._subscribers: list[Callable[[ConsoleState], None]] = []
        self._stream = None  # the open response (its lines iterator) while connected
        self._lines = None
        self.disconnected_at: float | None = None
        self.last_error: str | None = None  # why the stream last broke
        self.connects = 0  # streams opened: a reconnection makes it 2 and more
        self._closed = False

    # --- lifecycle (as Session) ----------------------------------------------------------------

    async def start(self) -> None:
        """Ask the collector for its view, open the stream and wait for the first full state."""
        try:
            res = await self._client.get("/api/view")
        except httpx.HTTPError as e:
            raise RemoteError(f"cannot reach the collector at {self.url}: {_why(e)}") from None
        body = self._json(res)
        if body.get("protocol") != codec.PROTOCOL:
            raise RemoteError(f"the collector at {self.url} speaks protocol {body.get('protocol')!r}, this viewer "
                              f"{codec.PROTOCOL}: run the same opsconsole version on both")
        self._role = body.get("role", "operate")
        view = dict(body["view"])
        view["read_only"] = bool(view.get("read_only")) or self.read_only or self._role == "read"
        self._view = View(**view)
        self._notices = [(s, f"Collector: {line}") for s, line in body.get("notices", [])]
        self._notices.append(("information", f"Attached to {self.url} ({'read-only' if self._view.read_only else 'operate'})"))
        try:
            await self._connect()
        except (httpx.HTTPError, Resync) as e:
            raise RemoteError(f"cannot read the collector's state at {self.url}: {_why(e)}") from None

    async def start_mitigations(self) -> None:
        return None  # the collector runs them

    async def run(self) -> None:
        """Read the stream; when it breaks, say so on every panel and reconnect by itself."""
        delay = 0.25
        while not self._closed:
            try:
                if self._lines is None:
                    await self._connect()
                    delay = 0.25
                await self._read()
                raise Resync("the collector closed the stream")
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, Resync, RemoteError, OSError, RuntimeError) as e:
                await self._close_stream()
                if self._closed:  # stopped while reading: the client is gone, nothing to say
                    return
                self._lost(_why(e))
            await asyncio.sleep(delay)  # not a race: the pause between reconnection attempts
            delay = min(self.retry_max, delay * 2)

    async def stop(self) -> None:
        self._closed = True
        await self._close_stream()
        await self._client.aclose()

    # --- state out ----------------------------------------------------------------------------

    @property
    def state(self) -> ConsoleState:
        return self._state

    def view(self) -> View:
        return self._view

    def notices(self) -> list[tuple[str, str]]:
        return list(self._notices)

    def scrubber(self) -> Scrubber:
        return Scrubber([self._token] if self._token else [])

    def shown(self) -> ConsoleState | None:
        """What the display shows: live, or the rewound state with its offset and what fires now (from the stream,
        so a new page is never hidden) and, when the collector is lost, saying so as the live state does."""
        live = self._state
        if self._rewound is None or live is None:
            return live
        rewound = self._rewound
        if live.link:  # disconnected: the rewound figures are the last known too
            rewound = _marked_lost(codec.from_doc(self._rewound_doc), live.link)
        return at_now(rewound, live)

    def subscribe(self, fn: Callable[[ConsoleState], None]) -> Callable[[], None]:
        """As Session's; the state already received is handed over at once (the collector may be quiet a while)."""
        self._subscribers.append(fn)
        if self._state is not None:
            fn(self.shown())
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def _publish(self, state: ConsoleState) -> None:
        self._state = state
        self._show()

    def _show(self) -> None:
        shown = self.shown()
        if shown is None:
            return
        for fn in list(self._subscribers):
            fn(shown)

    def _go_live(self) -> None:
        if self._rewound is not None:
            self._rewound, self._rewound_doc = None, None
            self._show()

    # --- commands -------------------------------------------------------------------------------

    async def request(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = str(cmd.get("cmd", ""))
        if name == "screenshot.write":
            return await self._screenshot(cmd["svg"])
        if name == "rewind" and self.disconnected_at is not None:
            if cmd.get("live"):  # the collector closed this viewer's rewind when it went: live is the last state
                self._go_live()
                return ok("live")
            return failed(f"disconnected from the collector since {hms(self.disconnected_at)}: rewind needs it")
        if self._rewound is not None and name in MUTATING:
            what = "Incident changes" if name.startswith("incident.") else "Mitigations"
            if self.disconnected_at is not None:
                return refused(f"{what} are refused while rewound: End or Esc returns to live (nothing sent)")
            # the collector refuses it too (its own record of this viewer's rewind, or this word) and audits it
            cmd = {**cmd, "rewound": self._rewound.ts}
        if self.disconnected_at is not None and name in MUTATING:
            return failed(f"disconnected from the collector since {hms(self.disconnected_at)}: nothing sent")
        try:
            res = await self._client.post("/api/command", json=cmd)
        except httpx.HTTPError as e:
            return failed(f"collector unreachable ({_why(e)}): nothing sent" if name in MUTATING
                          else f"collector unreachable: {_why(e)}")
        try:
            body = codec.loads(res.content)
        except ValueError:
            return failed(f"the collector answered HTTP {res.status_code} without a result")
        if not isinstance(body, dict) or "ok" not in body:
            return failed(f"the collector answered HTTP {res.status_code} without a result")
        body.setdefault("message", "")
        body.setdefault("refused", False)
        if name == "rewind":
            return self._rewind_answer(cmd, body)
        return body

    def _rewind_answer(self, cmd: dict, body: dict) -> dict:
        """Rewound: show the state the collector answered with (beside the live stream); live: the stream again."""
        doc = body.pop("state", None)
        if body["ok"] and isinstance(doc, dict):
            try:
                state = codec.from_doc(doc)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                return failed(f"the collector's rewound state does not fit this viewer ({type(e).__name__})")
            self._rewound, self._rewound_doc = state, doc
            self._show()
        elif body["ok"] or cmd.get("live"):
            self._go_live()
        return body

    async def _screenshot(self, svg: str) -> dict[str, Any]:
        """The viewer's own screen, in the viewer's own data dir."""
        folder = data_dir(None) / "screenshots"
        path = folder / f"opsconsole-{utc_iso(self.wall.now()).replace(':', '')}.svg"

        def write():
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(svg, encoding="utf-8")

        try:
            await asyncio.to_thread(write)
        except OSError as e:
            return failed(f"cannot write the screenshot: {e.strerror}")
        return ok(f"Screenshot written to {path}", path=str(path))

    # --- the stream ---------------------------------------------------------------------------

    async def _connect(self) -> None:
        req = self._client.build_request("GET", "/api/stream")
        resp = await self._client.send(req, stream=True)
        if resp.status_code != 200:
            await resp.aclose()
            raise RemoteError(_refusal(resp)) if resp.status_code in (401, 403) else Resync(f"HTTP {resp.status_code}")
        self._stream, self._lines = resp, resp.aiter_lines()
        self.connects += 1
        # a new stream starts live: the collector closed this viewer's rewind when its last stream ended (and
        # closes any left when this one opens), so the display returns to live with it
        self._rewound, self._rewound_doc = None, None
        await self._first_full()
        self.disconnected_at = None

    async def _first_full(self) -> None:
        """The stream's opening message: the full state."""
        msg = await self._next()
        if msg.get("t") != "full":
            raise Resync("the stream did not start with the full state")
        self._full(msg)

    async def _read(self) -> None:
        while True:
            msg = await self._next()
            if msg.get("t") == "full":
                self._full(msg)
            elif msg.get("t") == "live":  # the collector closed this viewer's rewind (unused too long)
                log.info("%s", str(msg.get("message", "rewind closed by the collector"))[:120])
                self._go_live()
            elif msg.get("t") == "diff":
                if isinstance(msg.get("seq"), int) and msg["seq"] <= self._seq:
                    continue  # queued before the full state that already holds it
                if msg.get("seq") != self._seq + 1:
                    raise Resync(f"stream skipped from {self._seq} to {msg.get('seq')}")
                try:
                    codec.apply(self._doc, msg["patch"])
                    state = codec.from_doc(self._doc)
                except (ValueError, KeyError, TypeError) as e:
                    raise Resync(f"a garbage frame on the stream ({e})") from None
                self._seq = msg["seq"]
                self._publish(state)

    async def _next(self) -> dict:
        async for line in self._lines:
            if not line.startswith("data:"):
                continue  # blank separators and keep-alive comments
            try:
                msg = codec.loads(line[5:])
            except ValueError:
                raise Resync("a garbage frame on the stream (not JSON)") from None
            if not isinstance(msg, dict):
                raise Resync("a garbage frame on the stream")
            return msg
        raise Resync("the collector closed the stream")

    def _full(self, msg: dict) -> None:
        if msg.get("protocol") != codec.PROTOCOL:
            raise Resync(f"the collector speaks protocol {msg.get('protocol')!r}")
        try:
            state = codec.from_doc(msg["doc"])
        except (KeyError, TypeError, ValueError) as e:
            raise Resync(f"a garbage frame on the stream ({e})") from None
        self._doc, self._seq = msg["doc"], int(msg.get("seq", 0))
        self._publish(state)

    async def _close_stream(self) -> None:
        stream, self._stream, self._lines = self._stream, None, None
        if stream is not None:
            try:
                await stream.aclose()
            except (httpx.HTTPError, OSError):
                pass

    def _lost(self, why: str) -> None:
        """The last state, every panel saying since when the collector is gone (as a failed source says it)."""
        self.last_error = why
        if self.disconnected_at is None:
            self.disconnected_at = self.wall.now()
            log.info("lost the collector at %s: %s", self.url, why)  # the screen says it; stderr is the screen
        if self._doc is None:
            return
        self._publish(_marked_lost(codec.from_doc(self._doc), f"disconnected since {hms(self.disconnected_at)}"))

    def _json(self, res: httpx.Response) -> dict:
        if res.status_code in (401, 403):
            raise RemoteError(_refusal(res))
        try:
            body = res.json()
        except ValueError:
            body = None
        if res.status_code != 200 or not isinstance(body, dict) or "view" not in body:
            raise RemoteError(f"{self.url} is not an opsconsole collector (HTTP {res.status_code})")
        return body


def _marked_lost(state: ConsoleState, line: str) -> ConsoleState:
    """The last state known, every panel saying since when the collector is gone (as a failed source says it)."""
    state.link = line
    for svc in state.services.values():
        for ep in svc.endpoints.values():
            ep.error, ep.retry_at = f"collector {line}", None
    return state


def _refusal(res: httpx.Response) -> str:
    return f"the collector at {res.request.url.scheme}://{res.request.url.netloc.decode()} refused this viewer: " \
           "missing or wrong token (--token-env VAR names the variable holding it)"


def _why(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:120]
