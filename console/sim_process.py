"""The demo's simulated fleet in a child process, forked before the console imports anything heavy.

`opsconsole demo` needs its five services answering by its first poll. Served from the console's own process they
cost its start-up the simulator's imports (starlette, uvicorn: ~40 ms), starting five servers, and then the first
poll's answers are computed on the same event loop that is mounting the dashboard. Forked first thing, the child
imports and starts the fleet on the box's other core while the console imports Textual and its engine; its bytes
are its own (reported with the console's in bench/startup.py and the README, never hidden).

The child writes one line to a pipe — the services' URLs, or why it could not start — and serves until the other
pipe, which only the console holds open, reaches end of file: when the console stops, exits or is killed. It never
writes to the terminal. Tests and `snapshot` keep the fleet in-process (console/demo.py), where a virtual clock can
drive it and its models can be inspected.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal

from console.clock import WallClock
from console.sim.credentials import Credentials

STOP_WAIT = 2.0  # seconds the child has to stop its servers before it is killed


class SimProcess:
    """Demo's interface (credentials, urls, start → Config, stop) over a forked child serving the fleet."""

    def __init__(self, scenario: str = "normal", seed: int = 0) -> None:
        self.scenario = scenario
        self.credentials = Credentials.generate()
        os.environ.update(self.credentials.env())  # the config's *_env auth keys name these
        self.urls: dict[str, str] = {}
        answer_r, answer_w = os.pipe()
        life_r, life_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into the console's code
            code = 1
            try:
                os.close(answer_r)
                os.close(life_w)
                code = _child(scenario, seed, self.credentials, answer_w, life_r)
            finally:
                os._exit(code)
        os.close(answer_w)
        os.close(life_r)
        self._answer = answer_r
        self._life = life_w  # closed by stop() or by this process ending: the child's signal to stop

    async def start(self, **top):
        """Wait for the child's URLs; the demo config pointing at them. RuntimeError when the fleet did not start."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()
        chunks: list[bytes] = []

        def readable() -> None:
            data = os.read(self._answer, 65536)
            chunks.append(data)
            if (not data or b"\n" in data) and not done.done():
                done.set_result(b"".join(chunks))

        loop.add_reader(self._answer, readable)
        try:
            line = await done
        finally:
            loop.remove_reader(self._answer)
        answer = json.loads(line.decode() or '{"error": "the simulator exited without a word"}')
        if "error" in answer:
            raise RuntimeError(f"simulated fleet did not start: {answer['error']}")
        self.urls = answer["urls"]
        from console.demo import demo_config  # the config schema: imported by the console meanwhile anyway

        return demo_config(self.urls, **top)

    async def stop(self) -> None:
        if self._life is None:
            return
        os.close(self._life)
        os.close(self._answer)
        self._life = None
        clock = WallClock()
        deadline = clock.monotonic() + STOP_WAIT
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if clock.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)  # our own child, by its id
                os.waitpid(self.pid, 0)
                break
            await clock.sleep(0.02)


def _child(scenario: str, seed: int, credentials: Credentials, answer: int, life: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the console's to handle; the pipe stops the child
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # never a byte on the console's terminal
        os.dup2(devnull, fd)
    os.close(devnull)

    async def serve() -> None:
        from console.sim.fleet import Fleet

        fleet = Fleet(WallClock(), scenario=scenario, seed=seed, credentials=credentials)
        try:
            urls = await fleet.start(host="127.0.0.1")
        except Exception as e:  # noqa: BLE001 - said to the console in one line
            os.write(answer, json.dumps({"error": f"{type(e).__name__}: {e}"}).encode() + b"\n")
            return
        os.write(answer, json.dumps({"urls": urls}).encode() + b"\n")
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        loop.add_reader(life, lambda: ended.done() or ended.set_result(None))  # readable only at end of file
        await ended
        await fleet.stop()

    asyncio.run(serve())
    return 0
