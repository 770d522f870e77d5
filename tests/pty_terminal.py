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

    def __init__(self, tmp_path: Path, cols: int = 120, rows: int = 40, keys_from_pipe: bool = False) -> None:
        """`keys_from_pipe`: its standard input a pipe (keys written to it) rather than the pty, so that a test can
        make it read as ended, as a hung-up terminal does (`hang_up`); the screen is still the pty."""
        opsconsole = Path(sys.executable).with_name("opsconsole")
        # COLUMNS/LINES: pytest-xdist's workers set 80×24, which Textual takes over the pty's own size
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_CONNECTION", "SSH_TTY", "COLUMNS", "LINES")}
        env.update(OPSCONSOLE_DATA_DIR=str(tmp_path), TERM="xterm-256color")
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        keys_r, self.keys_w = os.pipe() if keys_from_pipe else (None, None)
        self.pid = os.fork()
        if self.pid == 0:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            if keys_r is not None:
                os.dup2(keys_r, 0)
                os.close(self.keys_w)
            os.execve(str(opsconsole), [str(opsconsole), "demo"], env)
        os.close(slave)
        if keys_r is not None:
            os.close(keys_r)
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
        os.write(self.master if self.keys_w is None else self.keys_w, data)

    def hang_up(self) -> None:
        """The console's input reads as ended from now on (with `keys_from_pipe`)."""
        os.close(self.keys_w)
        self.keys_w = -1

    def wait_exit(self, timeout: float) -> int | None:
        """The console's exit status once it has ended within `timeout` (the pty drained meanwhile), else None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read(0.05)  # drained, as a terminal would: the console restores the screen on its way out
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
        return None

    def close(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the process group we made (setsid): only on a failure
        except ProcessLookupError:
            pass
        os.close(self.master)
        if self.keys_w not in (None, -1):
            os.close(self.keys_w)
