"""The five simulated services, each on its own loopback port, served by one uvicorn server in the current event loop."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter

import uvicorn

from ..embedded_server import EmbeddedServer, OneWritePerAnswer, serve
from . import conversion, converge, data_pipeline, path_tracker, pipelines
from .credentials import Credentials
from .faults import Faults
from .http import Context, Mutation
from .listen import listening_socket
from .scenarios import Timeline

SERVICES = {
    "conversion": conversion,
    "pipelines": pipelines,
    "converge": converge,
    "path_tracker": path_tracker,
    "data_pipeline": data_pipeline,
}


class Fleet:
    """The simulator: models, apps and servers of the five services, and what they received."""

    def __init__(self, clock, scenario: str = "normal", seed: int = 0, credentials: Credentials | None = None) -> None:
        self.clock = clock
        self.seed = seed
        self.credentials = credentials or Credentials.generate()
        self.timeline = Timeline(scenario, clock.now())
        self.mutations: list[Mutation] = []
        self.requests: Counter[tuple[str, str]] = Counter()
        self.test_events = 0
        self.urls: dict[str, str] = {}
        ctx = Context(clock, self.timeline, seed, self.credentials, self)
        self.models: dict = {}  # service → its model (state, for tests and debugging)
        self.apps: dict = {}  # service → its ASGI app (http.Dispatch), behind the fault injector (idle unless told)
        self.faults = Faults()
        for name, module in SERVICES.items():
            self.models[name], api = module.build(ctx)
            self.apps[name] = self.faults.wrap(name, api.app())
        self._servers: list[tuple[EmbeddedServer, asyncio.Task]] = []

    @property
    def scenario(self) -> str:
        return self.timeline.current

    def set_scenario(self, name: str) -> None:
        """Switch scenario from now on (ValueError for an unknown name)."""
        self.timeline.switch(name, self.clock.now())

    async def start(self, host: str = "127.0.0.1", sockets: dict[str, socket.socket] | None = None) -> dict[str, str]:
        """Serve every service on an ephemeral port of `host`; {service: base url}. OSError for a bad host.

        `sockets`: a listening socket per service, bound already (console/sim_process.py binds them before it
        forks, so the console knows the URLs while the fleet is still starting)."""
        if self._servers:
            return dict(self.urls)
        given = sockets or {}
        made: list[socket.socket] = []
        try:
            for name in SERVICES:
                if name not in given:
                    made.append(listening_socket(host))  # OSError for a bad host
        except OSError:
            for sock in made:
                sock.close()
            raise
        fresh = iter(made)
        socks = {name: given.get(name) or next(fresh) for name in SERVICES}
        ports = {name: sock.getsockname()[1] for name, sock in socks.items()}
        by_port = {ports[name]: self.apps[name] for name in SERVICES}

        async def app(scope, receive, send):  # each service on its own port, all of them served by one server
            await by_port[scope["server"][1]](scope, receive, send)

        # One server for the five (console/embedded_server.py: never woken but by a request or its stop). An idle
        # connection kept 75 s (nginx's default), longer than the console keeps one (15 s): uvicorn's 5 s was the
        # console's usual poll interval, so a poll found its connection closing under it. No proxy in front of a
        # loopback simulator (uvicorn's proxy-headers middleware read every request's headers for X-Forwarded-*), no
        # `server: uvicorn` header on each answer (no client reads it), and requests parsed by httptools (C), not
        # h11 (pure Python: most of what the child spent per request once its app was cheap), each answer in one
        # send() (console/embedded_server.py).
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1, timeout_keep_alive=75, proxy_headers=False,
                                server_header=False, http=OneWritePerAnswer)
        try:
            server, task = await serve(config, list(socks.values()), "the simulated fleet")
        except RuntimeError:
            for sock in socks.values():  # nothing serves them: a poll is refused rather than left waiting
                sock.close()
            raise
        self._servers.append((server, task))
        shown = f"[{host}]" if ":" in host else host
        self.urls = {name: f"http://{shown}:{ports[name]}" for name in SERVICES}
        return dict(self.urls)

    async def stop(self) -> None:
        """Shut every server down and wait for it."""
        servers, self._servers = self._servers, []
        for server, _ in servers:
            server.exit()
        # a server that failed to start has already raised its reason from start()
        await asyncio.gather(*(task for _, task in servers), return_exceptions=True)
        self.urls = {}

    async def __aenter__(self) -> "Fleet":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # the recorder interface the services report to (see http.Api)
    def count(self, service: str, path: str) -> None:
        self.requests[(service, path)] += 1

    def record(self, mutation: Mutation) -> None:
        self.mutations.append(mutation)

    def test_event(self) -> None:
        self.test_events += 1
