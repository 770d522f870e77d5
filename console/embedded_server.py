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
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _TurnWrites:
    """A transport whose writes within one turn of the loop go out as one: uvicorn writes an answer's status line and
    headers, then its body, each with a send() of its own, and on loopback each send runs the receiver's side of
    TCP too. Written at the end of the turn, in order; before a close."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        data, self._pending = b"".join(self._pending), []
        if data and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class OneWritePerAnswer(HttpToolsProtocol):
    """uvicorn's httptools protocol, each answer sent with one send() (measured: the simulated fleet's child spent
    ~0.1 ms on each of the two; the console polls it ~5 times a second)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # its flow control and addresses: the transport itself
        self.transport = _TurnWrites(transport)  # type: ignore[assignment]


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
