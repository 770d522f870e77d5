"""Renders the dashboard on a scenario at a fixed virtual time to SVG (and PNG with rsvg-convert) for the README.

usage: python docs/screenshot.py [--scenario NAME] [--minutes N] [--size 160x48] [--out docs/dashboard]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import shutil
import subprocess
import sys
import tempfile
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
    to_png(out + ".svg", out + ".png")


def to_png(svg: str, png: str) -> None:
    """A browser renders the SVG as a terminal would (rsvg-convert drops the spaces between styled words)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser:
        view = re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"', Path(svg).read_text())
        w, h = (math.ceil(float(x)) for x in view.groups())
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--disable-background-networking", "--disable-component-update", "--no-first-run",
                            f"--user-data-dir={profile}", f"--window-size={w},{h}", f"--screenshot={Path(png).resolve()}",
                            Path(svg).resolve().as_uri()], check=True, capture_output=True, timeout=60)
    elif shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "-o", png, svg], check=True)


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
