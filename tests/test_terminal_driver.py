"""The terminal driver on a real pty: keys (a lone Esc included) still work, the key thread sleeps while no key comes,
and `q` still ends the console at once (screens/terminal_driver.py)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import pytest

from tests.pty_terminal import Terminal

SELECT = {"x86_64": {"23", "270"}, "aarch64": {"72"}}.get(platform.machine(), set())  # select, pselect6


def input_thread_wakeups(term: Terminal) -> int:
    """How often the key thread has woken (its voluntary context switches: each select() that returned). It is
    the one thread waiting in select(): the loop waits in epoll, the others on locks (Python 3.11 does not name
    threads for the kernel)."""
    waiting = [task for task in Path(f"/proc/{term.pid}/task").iterdir()
               if (task / "syscall").read_text().split()[0] in SELECT]
    assert len(waiting) == 1, f"{len(waiting)} threads waiting in select()"
    status = (waiting[0] / "status").read_text()
    return int(status.split("voluntary_ctxt_switches:")[1].split()[0])


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
        before, start = input_thread_wakeups(term), time.monotonic()
        while time.monotonic() - start < 2.0:
            term.read(0.1)  # keep draining the pty, as a terminal does
        woke = input_thread_wakeups(term) - before
        assert woke <= 2, f"the key thread woke {woke} times in 2 s without a key"

        # quitting stops the key thread: one asleep in select() must be woken for it, or the console hangs on exit
        term.key(b"q")
        ended = term.wait_exit(10)
        assert ended is not None, "the console did not exit on q"
        assert os.WIFEXITED(ended) and os.WEXITSTATUS(ended) == 0
    finally:
        term.close()


def test_a_terminal_that_reads_as_ended_ends_the_console(tmp_path):
    """A hung-up terminal reads as ended (the SSH link dropped, the tmux pane killed) and, when no SIGHUP reaches
    the console (under `make demo`, make catches it), Textual's loop selected it forever: always readable, never a
    key, a core at 100 % until killed. The console now exits as `q` would."""
    term = Terminal(tmp_path, keys_from_pipe=True)
    try:
        term.until(lambda t: "Conversion health" in t and "buckets" in t, "the dashboard with a live figure")
        term.hang_up()
        ended = term.wait_exit(10)
        assert ended is not None, "the console kept running on a terminal that reads as ended"
        assert os.WIFEXITED(ended) and os.WEXITSTATUS(ended) == 0
    finally:
        term.close()
