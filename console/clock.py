"""The only place that reads the time: a wall clock for live use, a virtual one for tests and replay."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    exact: bool  # True: whatever starts at an instant finishes at it (virtual time: tests, virtual-time runs)

    def now(self) -> float:
        """Seconds since the epoch (UTC), as float."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""

    def monotonic(self) -> float:
        """Seconds that never go back (how long work took: the engine's and the polls' share of the loop)."""


class WallClock:
    exact = False

    """Real time."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    exact = True  # tests and virtual-time runs: everything started at an instant finishes at that instant

    """Time that moves only when told to; sleepers wake in deadline order as it advances."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    def set(self, t: float) -> None:
        """Jump to `t` (forwards or backwards, e.g. a replay seek) and wake whoever is due."""
        self._now = float(t)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)


def utc_iso(ts: float) -> str:
    """RFC3339 UTC with a Z, to the second."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """RFC3339 → epoch seconds; raises ValueError on anything else."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def hms(ts: float) -> str:
    """HH:MM:SS in UTC, for headers and timelines."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%H:%M:%S")
