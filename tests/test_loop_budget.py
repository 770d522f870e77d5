"""The polls' share of the loop: past its budget in one turn, decoding waits and a due timer runs first."""

from __future__ import annotations

import asyncio

from console.clock import VirtualClock
from console.sources.loop_budget import LoopBudget


class SteppingClock(VirtualClock):
    """Monotonic time that moves only when work is done (each decode costs `cost` seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.mono = 0.0

    def monotonic(self) -> float:
        return self.mono


async def test_decodes_past_the_budget_wait_for_the_next_turn() -> None:
    clock, order = SteppingClock(), []
    budget = LoopBudget(clock, budget_s=0.010)

    async def poll(i: int) -> None:
        await budget.spend()
        clock.mono += 0.004  # one decode: 4 ms
        order.append(f"decode{i}")

    polls = [asyncio.create_task(poll(i)) for i in range(8)]  # all ready in the same turn
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_soon(lambda: order.append("keypress"))  # arrives during that turn
    await asyncio.gather(*polls)
    # Each turn decodes until 10 ms are used (3 decodes); the keypress waits at most the turn after.
    assert order == ["decode0", "decode1", "decode2", "decode3", "decode4", "decode5", "keypress",
                     "decode6", "decode7"]


async def test_a_virtual_clock_never_defers() -> None:
    clock, done = VirtualClock(), []
    budget = LoopBudget(clock)

    async def poll(i: int) -> None:
        await budget.spend()
        done.append(i)

    tasks = [asyncio.create_task(poll(i)) for i in range(50)]
    await asyncio.sleep(0)  # one turn: every poll got through without stepping aside
    assert done == list(range(50))
    await asyncio.gather(*tasks)
