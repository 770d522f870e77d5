"""`opsconsole demo` on a real pseudo-terminal, read back as a screen (pyte): the tests that need a user's terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pyte


class Terminal:
    """`opsconsole demo` on a pty of its own, read back as a screen (pyte), as a user's terminal shows it."""

    def __init__(self, tmp_path: Path, cols: int = 120, rows: int = 40) -> None:
        opsconsole = Path(sys.executable).with_name("opsconsole")
        # COLUMNS/LINES: pytest-xdist's workers set 80×24, which Textual takes over the pty's own size
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_CONNECTION", "SSH_TTY", "COLUMNS", "LINES")}
        env.update(OPSCONSOLE_DATA_DIR=str(tmp_path), TERM="xterm-256color")
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
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

    def close(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the process group we made (setsid): only on a failure
        except ProcessLookupError:
            pass
        os.close(self.master)
