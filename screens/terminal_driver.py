"""The terminal driver: Textual's Linux driver, its key thread asleep until a key arrives.

Textual's key thread wakes ten times a second whether or not a key came, to see whether it should stop and whether
a lone Esc has waited long enough to be a key of its own. On this 2-core box that thread was ~0.2 % of a core of an
idle console's ~1.9 % (bench/terminal.py, which counts what the kernel bills: a bare 10 Hz wake-up loop costs
0.15 % here). This one sleeps until a key arrives or the driver stops it; after a key it keeps Textual's pace
until the escape delay has passed, so a lone Esc is still a key of its own after the same delay.

The loop below is Textual 8's `LinuxDriver.run_input_thread` with the select timeout changed, a wake-up pipe added,
and a terminal that reads as ended taken as a hang-up (the console exits; Textual's loop spun on it); the rest
(parsing, resize, stopping and resuming) is Textual's own.
"""

from __future__ import annotations

import os
import selectors
import threading
from codecs import getincrementaldecoder

from textual import constants, messages
from textual._parser import ParseError
from textual._time import get_time  # the clock Textual's parser times an escape sequence with
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

PACE_S = 0.1  # Textual's own select timeout, kept while an escape sequence may still be arriving


class _WakingEvent(threading.Event):
    """The driver's exit event: setting it also wakes the key thread sleeping in select()."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        try:
            os.write(self._wake_fd, b"!")
        except OSError:  # closed with the driver: nothing left to wake
            pass


class QuietLinuxDriver(LinuxDriver):
    """LinuxDriver whose key thread wakes for keys, for a pending escape sequence, and to stop; not ten times a
    second."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)  # a full pipe already wakes the thread: never block the setter
        self.exit_event = _WakingEvent(self._wake_w)  # LinuxDriver sets it to stop the key thread, then joins it
        self._gone = False  # the terminal hung up (see _hung_up)

    def close(self) -> None:
        super().close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def write(self, data: str) -> None:
        if not self._gone:  # after a hang-up Textual's writer thread has died on EIO: its queue would fill and block
            super().write(data)

    def _hung_up(self) -> None:
        """The terminal reads as ended: the SSH link dropped or its window closed, and the SIGHUP that would end
        the console did not reach it (a parent such as `make` caught it, or `nohup`). Textual's loop went on
        selecting a terminal that is always readable and never has a key: a core at 100 % until killed. Here
        the console exits as `q` would (the recording is closed, the simulator child stopped)."""
        if not self._gone:
            self._gone = True
            self.exit_event.set()
            self._app.post_message(messages.ExitApp())

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (Textual's loop; see the module docstring for what differs)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        fileno, wake = self.fileno, self._wake_r
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        settle = constants.ESCAPE_DELAY + PACE_S  # after the last key, Textual's pace for this long
        last_key = float("-inf")

        def process(events: list, final: bool = False) -> bool:
            """Feed what arrived to the parser; True when a key (any terminal input) came."""
            keyed = False
            for key, mask in events:
                if key.fd == wake:
                    try:
                        os.read(wake, 64)
                    except OSError:
                        pass
                    continue
                if mask & selectors.EVENT_READ:
                    try:
                        data = os.read(fileno, 1024 * 4)
                    except OSError:  # EIO: the terminal is gone
                        data = b""
                    if not data:
                        self._hung_up()
                        break
                    text = decode(data, final=final)
                    if not text:  # half a UTF-8 character so far
                        continue
                    keyed = True
                    for event in parser.feed(text):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)
            return keyed

        try:
            while not self.exit_event.is_set():
                pending = get_time() - last_key < settle  # an escape sequence may still be arriving
                if process(selector.select(PACE_S if pending else None)):
                    last_key = get_time()
            selector.unregister(fileno)
            process(selector.select(PACE_S), final=True)
        finally:
            selector.close()
            try:
                for _ in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
