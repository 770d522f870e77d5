"""The terminal driver on a real pty: keys (a lone Esc included) still work, the key thread sleeps while no key comes,
and `q` still ends the console at once (screens/terminal_driver.py)."""

from __future__ import annotations

import fcntl
import os
import platform
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

COLS, ROWS = 120, 40
SELECT = {"x86_64": {"23", "270"}, "aarch64": {"72"}}.get(platform.machine(), set())  # select, pselect6


class Terminal:
    """`opsconsole demo` on a pty of its own, read back as a screen (pyte), as a user's terminal shows it."""

    def __init__(self, tmp_path: Path) -> None:
        opsconsole = Path(sys.executable).with_name("opsconsole")
        # COLUMNS/LINES: pytest-xdist's workers set 80×24, which Textual takes over the pty's own size
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_CONNECTION", "SSH_TTY", "COLUMNS", "LINES")}
        env.update(OPSCONSOLE_DATA_DIR=str(tmp_path), TERM="xterm-256color")
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.pid = os.fork()
        if self.pid == 0:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.execve(str(opsconsole), [str(opsconsole), "demo"], env)
        os.close(slave)
        self.master = master

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def read(self, timeout: float) -> bool:
        """What the console wrote within `timeout`; False once it has closed the terminal."""
        try:
            if select.select([self.master], [], [], timeout)[0]:
                self.stream.feed(os.read(self.master, 65536))
        except OSError:  # EIO: the console has gone
            return False
        return True

    def until(self, condition, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.text()):
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.text()}"
            self.read(0.1)

    def key(self, data: bytes) -> None:
        os.write(self.master, data)

    def input_thread_wakeups(self) -> int:
        """How often the key thread has woken (its voluntary context switches: each select() that returned). It is
        the one thread waiting in select(): the loop waits in epoll, the others on locks (Python 3.11 does not name
        threads for the kernel)."""
        waiting = [task for task in Path(f"/proc/{self.pid}/task").iterdir()
                   if (task / "syscall").read_text().split()[0] in SELECT]
        assert len(waiting) == 1, f"{len(waiting)} threads waiting in select()"
        status = (waiting[0] / "status").read_text()
        return int(status.split("voluntary_ctxt_switches:")[1].split()[0])

    def close(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the process group we made (setsid): only on a failure
        except ProcessLookupError:
            pass
        os.close(self.master)


@pytest.mark.skipif(not SELECT, reason="select's syscall numbers are known for x86_64 and aarch64")
def test_keys_work_the_key_thread_sleeps_when_idle_and_q_quits_at_once(tmp_path):
    term = Terminal(tmp_path)
    try:
        term.until(lambda t: "Conversion health" in t and "buckets" in t, "the dashboard with a live figure")
        term.key(b"?")
        term.until(lambda t: "app.quit" in t, "the key list")
        term.key(b"\x1b")  # a lone Esc: a key of its own once the escape delay has passed, as with Textual's driver
        term.until(lambda t: "app.quit" not in t and "Conversion health" in t, "the key list to close on Esc")

        # idle: no key for a while, the screen still ticking; Textual's own thread woke 10 times a second here
        before, start = term.input_thread_wakeups(), time.monotonic()
        while time.monotonic() - start < 2.0:
            term.read(0.1)  # keep draining the pty, as a terminal does
        woke = term.input_thread_wakeups() - before
        assert woke <= 2, f"the key thread woke {woke} times in 2 s without a key"

        # quitting stops the key thread: one asleep in select() must be woken for it, or the console hangs on exit
        term.key(b"q")
        deadline, ended = time.monotonic() + 10, None
        while ended is None and time.monotonic() < deadline:
            term.read(0.05)  # drained, as a terminal would: the console restores the screen on its way out
            pid, status = os.waitpid(term.pid, os.WNOHANG)
            ended = status if pid else None
        assert ended is not None, "the console did not exit on q"
        assert os.WIFEXITED(ended) and os.WEXITSTATUS(ended) == 0
    finally:
        term.close()
