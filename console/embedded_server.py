"""A uvicorn server run inside the console's own event loop: the simulated fleet's five, the war-room collector's one.

uvicorn's own loop wakes ten times a second to refresh its Date header and to see whether it should stop. The
demo's five simulated services, idle between the console's polls, spent their whole CPU there: 0.40 % of a core
of the 2-core bench machine (bench/terminal.py counts it in the demo's CPU), 0.03 % when woken once a second.
Here the server never wakes on its own: it answers without a Date header (nothing that polls the simulator or the
collector reads one; keeping it right took a wake-up a second) and stops as soon as it is told to.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import uvicorn


class EmbeddedServer(uvicorn.Server):
    """Serves given sockets; leaves signals to its host (several servers in one process must not fight over
    SIGINT); says when it is started (`ready`); stops at once on `exit()`."""

    def __init__(self, config: uvicorn.Config) -> None:
        config.date_header = False  # see the module's docstring
        super().__init__(config)
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()

    def capture_signals(self):
        return contextlib.nullcontext()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default headers, once (no Date: see the module's docstring)
        await self._stop.wait()

    def exit(self) -> None:
        """Stop serving: open connections are closed, the serving task ends."""
        self.should_exit = True
        self._stop.set()


async def serve(config: uvicorn.Config, sockets: list[socket.socket], name: str) -> tuple[EmbeddedServer, asyncio.Task]:
    """Start an EmbeddedServer on listening sockets; return it with its task once it serves. RuntimeError (with
    uvicorn's reason) when it cannot start."""
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=sockets), name=name)
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not server.ready.is_set():
        ready.cancel()
        reason = task.exception() if task.done() and not task.cancelled() else None
        raise RuntimeError(f"{name} did not start: {reason!r}")
    return server, task
