"""A share of event-loop time for the polls of one clock: past it, the next decode waits for the loop's next turn."""

from __future__ import annotations

import asyncio
import weakref

BUDGET_S = 0.015

_budgets: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class LoopBudget:
    """Bounds how long the polls' decoding holds the loop in one of its turns.

    A hundred services' responses tend to arrive together, and asyncio runs every task that is
    ready in one turn: decoding them all back to back froze the screen for a second at 200
    services. Once the polls have used `BUDGET_S` of a turn, the rest step aside (`sleep(0)`) so
    the timers and keypresses due run first; the turn after, decoding goes on. On a virtual clock
    no time passes within a turn, so tests never step aside.
    """

    def __init__(self, clock, budget_s: float = BUDGET_S) -> None:
        self._clock, self._budget = clock, budget_s
        self._since = clock.monotonic()
        self._deferring = False

    async def spend(self) -> None:
        """Return at once while the turn has budget left; else wait for a later turn that has."""
        while True:
            if not self._deferring:
                if self._clock.monotonic() - self._since < self._budget:
                    return
                self._deferring = True
                asyncio.get_running_loop().call_soon(self._next_turn)  # runs before the deferred polls
            await asyncio.sleep(0)

    def _next_turn(self) -> None:
        self._deferring = False
        self._since = self._clock.monotonic()


def budget_for(clock) -> LoopBudget:
    """The one budget shared by every source polling on `clock`."""
    budget = _budgets.get(clock)
    if budget is None:
        budget = _budgets[clock] = LoopBudget(clock)
    return budget
