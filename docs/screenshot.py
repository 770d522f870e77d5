"""Renders the dashboard on a scenario at a fixed virtual time to SVG (and PNG with rsvg-convert) for the README.

usage: python docs/screenshot.py [--scenario NAME] [--minutes N] [--size 160x48] [--out docs/dashboard]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.clock import VirtualClock  # noqa: E402
from console.session import Session  # noqa: E402
from screens.app import OpsApp  # noqa: E402

START = 1_795_000_000.0


async def shoot(scenario: str, minutes: float, size: tuple[int, int], out: str, keys: list[str]) -> None:
    app = OpsApp(Session(clock=VirtualClock(START), scenario=scenario, seed=1), autorun=False)
    async with app.run_test(size=size) as pilot:
        clock = app.session.engine.clock
        end = clock.now() + minutes * 60
        while clock.now() < end:
            clock.advance(1.0)
            await app.session.engine.tick()
        await pilot.pause()
        for k in keys:
            await pilot.press(k)
            await pilot.pause()
        await app.session.engine.tick()
        await pilot.pause()
        app.save_screenshot(out + ".svg")
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "-o", out + ".png", out + ".svg"], check=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="normal")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--size", default="160x48")
    ap.add_argument("--out", default="docs/dashboard")
    ap.add_argument("--keys", nargs="*", default=[])
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    asyncio.run(shoot(a.scenario, a.minutes, (w, h), a.out, a.keys))


if __name__ == "__main__":
    main()
