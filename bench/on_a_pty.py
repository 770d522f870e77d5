"""A program started on a pseudo-terminal of a given size, as a user's terminal would run it (for the pty benches)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import termios


def spawn(cmd: list[str], env: dict[str, str], cols: int = 120, rows: int = 40) -> tuple[int, int]:
    """Start `cmd` on a new cols×rows pty as its controlling terminal, in its own session: (pid, the master fd).
    COLUMNS and LINES are dropped from `env` (pytest-xdist's workers set 80×24, which Textual takes over the pty's)."""
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    pid = os.fork()
    if pid == 0:
        os.close(master)
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.execvpe(cmd[0], cmd, env)
    os.close(slave)
    return pid, master
