"""`opsconsole web`: the viewer in a browser (textual-serve); each tab runs its own viewer attached to the collector.

Each browser tab gets a process running `opsconsole attach URL --read-only` (so ten tabs are ten viewers of
one collector, not ten consoles polling every service). The page and every asset it loads come from this
server (textual-serve's JS, CSS and fonts, shipped in its wheel; our page drops its Google Fonts link), so it
loads on a network with no way out. Loopback by default; anywhere else needs a token, which the browser gives
once (`/?token=...`) and then holds as a cookie; the token itself never reaches a log.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

COOKIE = "opsconsole_web"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class WebError(Exception):
    """A refusal to start, phrased as one line (exit 2)."""


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:PORT` for IPv6) → (host, port)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise WebError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost: it may resolve anywhere


def viewer_command(args) -> list[str]:
    """What each tab runs: a read-only viewer attached to the collector (`--operate`: as the token allows)."""
    python = [sys.executable, "-m", "console.cli"]
    if getattr(args, "viewer_demo", None):  # development: an in-process demo per tab, until `attach` exists
        cmd = python + ["demo", "--scenario", args.viewer_demo]
    else:
        cmd = python + ["attach", args.collector]
        if args.token_env:
            cmd += ["--token-env", args.token_env]
    if not args.operate:
        cmd.append("--read-only")
    if args.layout:
        cmd += ["--layout", args.layout]
    return cmd


def settle(args, environ: dict[str, str] | None = None) -> tuple[str, int, str | None]:
    """Check the options before anything listens: (host, port, token); WebError says why not."""
    environ = os.environ if environ is None else environ
    host, port = parse_listen(args.listen)
    token = None
    if args.token_env:
        token = environ.get(args.token_env) or None
        if token is None:
            raise WebError(f"--token-env {args.token_env}: that environment variable is not set")
    if not is_loopback(host) and token is None:
        raise WebError(f"--listen {args.listen} is off loopback: a token is required "
                       "(--token-env VAR; browsers then open the page once with ?token=...)")
    if args.operate and token is None:
        raise WebError("--operate needs --token-env VAR naming an operate token (viewers are read-only without it)")
    if not getattr(args, "viewer_demo", None) and not args.collector:
        raise WebError("--collector URL is required (the `opsconsole serve` each tab attaches to)")
    if args.collector and urlsplit(args.collector).scheme not in ("http", "https"):
        raise WebError(f"--collector {args.collector!r}: expected an http:// or https:// URL")
    return host, port, token


def cookie_value(token: str) -> str:
    """What the browser keeps: derived from the token, never the token itself."""
    return hmac.new(token.encode(), b"opsconsole-web-session", hashlib.sha256).hexdigest()


def make_server(command: list[str], host: str, port: int, token: str | None, title: str = "opsconsole"):
    """A textual-serve Server with our page, a token and Host/Origin guard, and no access log."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import web
    from textual_serve.server import Server

    loopback_only = token is None

    class ViewerServer(Server):
        async def make_app(self) -> web.Application:
            app = web.Application(middlewares=[guard])
            # our page (web_index.html beside this module); the static files are textual-serve's own
            aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(Path(__file__).parent)))
            app.add_routes([
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.static("/static", self.statics_path, name="static"),
            ])
            return app

        _make_app = make_app  # what textual-serve's own serve() calls

        @aiohttp_jinja2.template("web_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            # URLs from the request's own origin: right behind any name the browser used (0.0.0.0 is no address)
            origin = f"{request.scheme}://{request.host}"
            ws = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}/ws"
            size = request.query.get("fontsize", "16")
            return {"font_size": int(size) if size.isdigit() else 16, "app_websocket_url": ws,
                    "config": {"static": {"url": f"{origin}/static/"}}, "application": {"name": title},
                    "ping_url": ""}

    @web.middleware
    async def guard(request: web.Request, handler):
        hostname = (urlsplit(f"//{request.host}").hostname or "").lower()
        if loopback_only and hostname not in LOOPBACK_NAMES and not is_loopback(hostname):
            # a loopback server answers only to loopback names: no DNS-rebound page reaches it
            return web.Response(status=403, text="opsconsole web: this server answers on loopback only\n")
        if request.path == "/ws":
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != request.host:
                # a WebSocket is not bound by the same-origin policy: another site's page must not drive a viewer
                return web.Response(status=403, text="opsconsole web: cross-origin connection refused\n")
        if token is None:
            return await handler(request)
        given = request.query.get("token")
        if given is not None:
            if not hmac.compare_digest(given.encode(), token.encode()):
                return web.Response(status=401, text="opsconsole web: wrong token\n")
            query = {k: v for k, v in request.query.items() if k != "token"}
            target = request.rel_url.with_query(query)  # the token leaves the address bar (and the history)
            resp = web.Response(status=303, headers={"Location": str(target)})
            resp.set_cookie(COOKIE, cookie_value(token), httponly=True, samesite="Strict", path="/")
            return resp
        if hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), cookie_value(token).encode()):
            return await handler(request)
        return web.Response(status=401, text="opsconsole web: token required: open this page once with ?token=...\n")

    return ViewerServer(shlex.join(command), host=host, port=port, title=title)


async def serve(server, host: str, port: int, announce) -> None:
    """Run until cancelled; `announce(url)` once listening (the port is the real one when 0 was asked)."""
    from aiohttp import web

    runner = web.AppRunner(await server.make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        bound = runner.addresses[0][1] if runner.addresses else port
        shown = f"[{host}]" if ":" in host else host
        announce(f"http://{shown}:{bound}/")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run_web(args) -> int:
    """`opsconsole web`: refuse in one line (exit 2), or serve until Ctrl-C / SIGTERM."""
    try:
        host, port, token = settle(args)
    except WebError as e:
        print(f"opsconsole web: {e}", file=sys.stderr)
        return 2
    command = viewer_command(args)
    server = make_server(command, host, port, token)
    what = "read-only" if not args.operate else "operate (as the token allows)"
    source = f"demo {args.viewer_demo}" if getattr(args, "viewer_demo", None) else f"collector {args.collector}"

    def announce(url: str) -> None:
        print(f"opsconsole web: {url} · each tab a {what} viewer of {source}", flush=True)

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await serve(server, host, port, announce)
        except OSError as e:  # the port is taken, the address is not ours
            raise WebError(f"--listen {args.listen}: {e.strerror or e}") from None

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        return 0
    except WebError as e:
        print(f"opsconsole web: {e}", file=sys.stderr)
        return 2
    return 0
