"""The demo's simulated fleet in a child process, forked before the console imports anything heavy.

`opsconsole demo` needs its five services answering by its first poll. Served from the console's own process they
cost its start-up the simulator's imports (starlette, uvicorn: ~40 ms), starting five servers, and then the first
poll's answers are computed on the same event loop that is mounting the dashboard. Forked first thing, the child
imports and starts the fleet on the box's other core while the console imports Textual and its engine; its bytes
are its own (bench/memory.py reports the console and the child apart, and their sum).

The five listening sockets are bound here, before the fork: the URLs are known at once, so the console never waits
for the child to start; a poll sent before the child serves waits in the socket's backlog and is answered when it
does. The child stops when the pipe only the console holds open reaches end of file — when the console stops,
exits or is killed — and never writes to the terminal. Tests and `snapshot` keep the fleet in-process
(console/demo.py), where a virtual clock can drive it and its models can be inspected.
"""

from __future__ import annotations

import logging
import os
import signal

# nothing heavy here: this module is imported, and the child forked, before the console imports asyncio

from console.sim.credentials import Credentials
from console.sim.listen import listening_socket

STOP_WAIT = 2.0  # seconds the child has to stop its servers before it is killed
KINDS = ("conversion", "pipelines", "converge", "path_tracker", "data_pipeline")  # console.sim.fleet.SERVICES
log = logging.getLogger(__name__)


class SimProcess:
    """Demo's interface (credentials, urls, start → Config, stop) over a forked child serving the fleet."""

    def __init__(self, scenario: str = "normal", seed: int = 0, clock=None, host: str = "127.0.0.1") -> None:
        """`clock`: what the child's fleet reads the time from (default the wall clock; bench/memory.py passes one
        that follows its virtual clock through shared memory)."""
        self.scenario = scenario
        self.credentials = Credentials.generate()
        os.environ.update(self.credentials.env())  # the config's *_env auth keys name these
        sockets = {kind: listening_socket(host) for kind in KINDS}
        shown = f"[{host}]" if ":" in host else host
        self.urls = {kind: f"http://{shown}:{s.getsockname()[1]}" for kind, s in sockets.items()}
        life_r, life_w = os.pipe()
        why_r, why_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into the console's code
            code = 1
            try:
                os.close(life_w)
                os.close(why_r)
                code = _child(scenario, seed, clock, self.credentials, sockets, host, life_r, why_w)
            finally:
                os._exit(code)
        os.close(life_r)
        os.close(why_w)
        for s in sockets.values():  # the child's now: when it ends, a poll is refused instead of waiting forever
            s.close()
        self._life: int | None = life_w  # closed by stop() or by this process ending: the child's signal to stop
        self._why: int | None = why_r  # one line from the child if its fleet fails (else end of file when it exits)
        self.failure: str | None = None  # that line: the panels say "connection refused", the log says why

    async def start(self, **top):
        """The demo config pointing at the child's services (at once: their sockets listen already)."""
        import asyncio

        from console.demo import demo_config  # the config schema: the console imports it meanwhile anyway

        if self._why is not None:
            asyncio.get_running_loop().add_reader(self._why, self._heard)
        return demo_config(self.urls, **top)

    def _heard(self) -> None:
        line = os.read(self._why, 4096).decode("utf-8", "replace").strip()
        if line:
            self.failure = line
            log.warning("the simulated fleet stopped: %s", line)
        self._close_why()  # one line, then end of file

    def _close_why(self) -> None:
        if self._why is None:
            return
        import asyncio

        try:
            asyncio.get_running_loop().remove_reader(self._why)
        except RuntimeError:  # no loop running (start was never awaited)
            pass
        os.close(self._why)
        self._why = None

    def running(self) -> bool:
        return self._life is not None and os.waitpid(self.pid, os.WNOHANG) == (0, 0)

    async def stop(self) -> None:
        from console.clock import WallClock

        if self._life is None:
            return
        self._close_why()
        os.close(self._life)
        self._life = None
        clock = WallClock()
        deadline = clock.monotonic() + STOP_WAIT
        while True:
            try:
                if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                    return
            except ChildProcessError:  # reaped already
                return
            if clock.monotonic() > deadline:
                log.warning("the simulator did not stop in %.0f s: killed", STOP_WAIT)
                os.kill(self.pid, signal.SIGKILL)  # our own child, by its id
                os.waitpid(self.pid, 0)
                return
            await clock.sleep(0.02)


def _child(scenario: str, seed: int, clock, credentials: Credentials, sockets: dict, host: str, life: int,
           why: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the console's to handle; the pipe stops the child
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # never a byte on the console's terminal
        os.dup2(devnull, fd)
    os.close(devnull)
    import asyncio

    async def serve() -> None:
        from console.clock import WallClock
        from console.sim.fleet import Fleet

        fleet = Fleet(clock or WallClock(), scenario=scenario, seed=seed, credentials=credentials)
        await fleet.start(host=host, sockets=sockets)  # a failure ends the child (said on `why`): polls are refused
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        loop.add_reader(life, lambda: ended.done() or ended.set_result(None))  # readable only at end of file
        await ended
        await fleet.stop()

    try:
        asyncio.run(serve())
    except Exception as e:  # noqa: BLE001 - one line for the console's log; the child ends
        os.write(why, f"{type(e).__name__}: {e}".replace("\n", " ")[:1000].encode() + b"\n")
        return 1
    return 0
