"""`opsconsole web` in a real headless chromium with the network closed: the page loads from the server alone,
and the terminal it draws (the bytes the browser's own WebSocket received, read back through a VT emulator)
shows the console — and, attached to a collector, the collector's incidents."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parent.parent
OPSCONSOLE = [sys.executable, "-m", "console.cli"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1600,1000",
                  # the network closed: every name resolves to nothing and every address goes to a dead proxy
                  # except loopback (chromium never proxies it), where opsconsole web listens
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                  "--proxy-server=127.0.0.1:9"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A started opsconsole process; its first stdout line matching `pattern` is `found`."""

    def __init__(self, args: list[str], pattern: str, env: dict[str, str], timeout: float = 60) -> None:
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                  cwd=ROOT)
        deadline = time.monotonic() + timeout
        self.lines: list[str] = []
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                self.found = m
                return
        self.stop()
        raise AssertionError(f"{args[3:5]} did not start: {''.join(self.lines)} {self.p.stderr.read()[-2000:]}")

    def stop(self) -> str:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.stderr.read() if self.p.stderr else ""


class Browser:
    """Headless Debian chromium driven over the DevTools protocol (a WebSocket): navigate, record what the page
    requested and what its WebSockets received, read the DOM, take a screenshot."""

    def __init__(self, profile: str) -> None:
        chromium = require_binary("chromium")
        self.p = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                   "--remote-debugging-port=0", "about:blank"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline and self.p.poll() is None, "chromium did not start"
            time.sleep(0.05)
        self.port = int(port_file.read_text().split()[0])
        self.events: list[dict] = []
        self._id = 0
        self._waiting: dict[int, asyncio.Future] = {}

    async def connect(self) -> None:
        import aiohttp

        self.http = aiohttp.ClientSession()
        async with self.http.get(f"http://127.0.0.1:{self.port}/json/list") as r:
            page = next(t for t in await r.json() if t["type"] == "page")
        self.ws = await self.http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        self.reader = asyncio.create_task(self._read())
        await self.send("Network.enable")
        await self.send("Page.enable")

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def send(self, method: str, **params) -> dict:
        self._id += 1
        fut = self._waiting[self._id] = asyncio.get_running_loop().create_future()
        await self.ws.send_str(json.dumps({"id": self._id, "method": method, "params": params}))
        res = await asyncio.wait_for(fut, 30)
        assert "error" not in res, res
        return res["result"]

    async def evaluate(self, js: str):
        return (await self.send("Runtime.evaluate", expression=js, returnByValue=True))["result"].get("value")

    def screen(self) -> str:
        """The terminal as the page drew it: every byte its WebSocket received, through a VT emulator sized as
        the page asked (the ws URL's width/height, then its resize messages)."""
        import pyte

        screen, stream = None, None
        for e in self.events:
            m, p = e["method"], e["params"]
            if m == "Network.webSocketCreated":
                q = parse_qs(urlsplit(p["url"]).query)
                screen = pyte.Screen(int(q["width"][0]), int(q["height"][0]))
                stream = pyte.ByteStream(screen)
            elif m == "Network.webSocketFrameSent" and screen is not None:
                msg = json.loads(p["response"]["payloadData"])
                if msg[0] == "resize":
                    screen.resize(msg[1]["height"], msg[1]["width"])
            elif m == "Network.webSocketFrameReceived" and stream is not None and p["response"]["opcode"] == 2:
                stream.feed(base64.b64decode(p["response"]["payloadData"]))
        return "\n".join(screen.display) if screen else ""

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def failures(self) -> list[str]:
        ids = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in self.events
               if e["method"] == "Network.requestWillBeSent"}
        return [f"{ids.get(e['params']['requestId'])}: {e['params'].get('errorText')}" for e in self.events
                if e["method"] == "Network.loadingFailed"]

    async def wait_for_screen(self, ok, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if ok(text):
                return text
            await asyncio.sleep(0.5)
        raise AssertionError(f"the page never showed it; it shows:\n{text}")

    async def close(self) -> None:
        try:
            await self.ws.close()
            await self.http.close()
            self.reader.cancel()
        finally:
            self.p.terminate()
            self.p.wait(15)


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e["XDG_DATA_HOME"] = str(tmp_path / "data")  # the viewers' recordings and logs stay in the test's dir
    e["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return e


async def load(url: str, expect, shot: Path) -> tuple[Browser, str]:
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(profile)
        try:
            await browser.connect()
            await browser.send("Page.navigate", url=url)
            text = await browser.wait_for_screen(expect)
            assert await browser.evaluate("document.body.classList.contains('-first-byte')")  # textual.js drew it
            png = (await browser.send("Page.captureScreenshot", format="png"))["data"]
            shot.write_bytes(base64.b64decode(png))
            return browser, text
        finally:
            await browser.close()


def assert_offline(browser: Browser, base: str) -> None:
    """Everything the page asked for came from the server, and nothing failed (no CDN, no font service)."""
    origin = urlsplit(base).netloc
    asked = browser.requests()
    assert asked and all(urlsplit(u).netloc == origin for u in asked if not u.startswith("data:")), asked
    assert any(u.endswith("/static/js/textual.js") for u in asked)
    assert any("RobotoMono" in u for u in asked)  # the fonts too, from the wheel
    assert browser.failures() == []


@pytest.mark.external
async def test_web_serves_the_console_to_a_browser_offline(env, tmp_path):
    """Runs today: each tab an in-process read-only demo (service-down opens a P1 at once), the wall layout."""
    env["OPSWEB_TOKEN"] = "s3cret-t0ken-for-the-web"
    web = Proc(OPSCONSOLE + ["web", "--listen", "127.0.0.1:0", "--viewer-demo", "service-down",
                             "--layout", "wall", "--token-env", "OPSWEB_TOKEN"],
               r"(http://127\.0\.0\.1:\d+/)", env)
    try:
        base = web.found.group(1)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base, timeout=10)  # no token: refused, one line
        assert refused.value.code == 401 and refused.value.read().decode().count("\n") == 1

        def wall_with_incident(text: str) -> bool:
            return "Open incidents" in text and re.search(r"P1 +● TRIGGERED +INC-\d+", text) is not None

        browser, text = await load(base + "?token=" + env["OPSWEB_TOKEN"], wall_with_incident, tmp_path / "web.png")
        assert "READ-ONLY" in text and "datapipe" in text
        assert_offline(browser, base)
        # the token left the address bar: the page itself was loaded without it
        assert any(u == base for u in browser.requests())
    finally:
        err = web.stop()
    assert env["OPSWEB_TOKEN"] not in err and env["OPSWEB_TOKEN"] not in "".join(web.lines)


def _has(command: str) -> bool:
    from console.cli import build_parser

    usage = build_parser().format_usage()  # opsconsole [-h] {demo,run,...} ...
    return re.search(rf"[{{,]{command}[,}}]", usage) is not None


@pytest.mark.external
@pytest.mark.skipif(not (_has("serve") and _has("attach")), reason="`opsconsole serve` / `attach` not on this branch")
async def test_web_tabs_show_the_collectors_incidents(env, tmp_path):
    """A collector (`opsconsole serve`) on the simulator; `web --collector`: the incidents the browser shows are
    the ones the collector keeps (its store, read by `opsconsole incidents`)."""
    cfg = tmp_path / "fleet.toml"
    sim = Proc(OPSCONSOLE + ["sim", "--scenario", "service-down", "--write-config", str(cfg)],
               r"config written", env)
    try:
        for line in sim.lines:  # the simulator's credentials, as a user would export them
            m = re.match(r"\s+export (\w+)=(.*)$", line)
            if m:
                env[m.group(1)] = m.group(2)
        text = cfg.read_text()
        cfg.write_text(f'data_dir = "{tmp_path / "collector"}"\n' + text)
        port = free_port()
        collector = subprocess.Popen(OPSCONSOLE + ["serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while True:  # listening: what it prints is its own business
                assert collector.poll() is None and time.monotonic() < deadline, "opsconsole serve did not start"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            web = Proc(OPSCONSOLE + ["web", "--listen", "127.0.0.1:0", "--collector", f"http://127.0.0.1:{port}"],
                       r"(http://127\.0\.0\.1:\d+/)", env)
            try:
                base = web.found.group(1)
                browser, shown = await load(base, lambda t: re.search(r"INC-\d+", t) is not None,
                                            tmp_path / "collector.png")
                assert_offline(browser, base)
                kept = json.loads(subprocess.run(OPSCONSOLE + ["incidents", "--config", str(cfg), "--open", "--json"],
                                                 capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout)
                ids = {i["id"] for i in (kept["incidents"] if isinstance(kept, dict) else kept)}
                assert ids and set(re.findall(r"INC-\d+", shown)) <= ids
            finally:
                web.stop()
        finally:
            collector.terminate()
            collector.wait(15)
    finally:
        sim.stop()


@pytest.mark.parametrize("argv, says", [
    (["--listen", "0.0.0.0:0", "--viewer-demo", "normal"], "off loopback: a token is required"),
    (["--listen", "127.0.0.1:0"], "--collector URL is required"),
    (["--listen", "127.0.0.1:0", "--collector", "http://127.0.0.1:9", "--operate"], "--operate needs --token-env"),
    (["--listen", "127.0.0.1:0", "--collector", "http://127.0.0.1:9", "--token-env", "OPSWEB_UNSET_VAR"],
     "OPSWEB_UNSET_VAR: that environment variable is not set"),
    (["--listen", "nowhere", "--viewer-demo", "normal"], "expected HOST:PORT"),
])
def test_web_refuses_to_start_in_one_line(argv, says, env):
    env.pop("OPSWEB_UNSET_VAR", None)
    r = subprocess.run(OPSCONSOLE + ["web", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("opsconsole web: ") and says in r.stderr and r.stderr.count("\n") == 1


def _get(url: str, headers: dict[str, str] | None = None):
    """(status, headers, body) without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def test_web_asks_for_the_token_once_and_keeps_only_a_derived_cookie(env):
    env["OPSWEB_TOKEN"] = "another-s3cret-value"
    web = Proc(OPSCONSOLE + ["web", "--listen", "127.0.0.1:0", "--viewer-demo", "normal",
                             "--token-env", "OPSWEB_TOKEN"], r"(http://127\.0\.0\.1:\d+/)", env)
    try:
        base = web.found.group(1)
        assert _get(base)[0] == 401
        assert _get(base + "static/js/textual.js")[0] == 401  # nothing without it
        assert _get(base + "?token=wrong")[0] == 401
        status, headers, _ = _get(base + "?token=" + env["OPSWEB_TOKEN"] + "&fontsize=18")
        assert status == 303 and headers["Location"] == "/?fontsize=18"  # the token leaves the address bar
        cookie = headers["Set-Cookie"].split(";")[0]
        assert env["OPSWEB_TOKEN"] not in cookie and "HttpOnly" in headers["Set-Cookie"]
        status, _, page = _get(base + "?fontsize=18", {"Cookie": cookie})
        assert status == 200 and "googleapis" not in page
        assert set(re.findall(r"(?:https?|wss?)://[^/\"' ]+", page)) - {"http://www.w3.org"} == \
            {base.rstrip("/"), base.rstrip("/").replace("http", "ws")}  # every asset from this server
    finally:
        err = web.stop()
    assert env["OPSWEB_TOKEN"] not in err + "".join(web.lines)


def test_web_on_loopback_answers_loopback_names_and_same_origin_sockets_only(env):
    web = Proc(OPSCONSOLE + ["web", "--listen", "127.0.0.1:0", "--viewer-demo", "normal"],
               r"(http://127\.0\.0\.1:(\d+)/)", env)
    try:
        base, port = web.found.group(1), web.found.group(2)
        assert _get(base)[0] == 200
        assert _get(base, {"Host": f"localhost:{port}"})[0] == 200
        assert _get(base, {"Host": f"rebound.example:{port}"})[0] == 403  # a DNS-rebinding page
        ws = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode()}
        assert _get(base + "ws", {**ws, "Origin": "http://evil.example"})[0] == 403  # another site's page
    finally:
        web.stop()
