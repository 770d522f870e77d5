"""The headless parts (engine, sources, PromQL, simulator, snapshot CLI) never import textual."""

import subprocess
import sys

HEADLESS = ["console.engine", "console.session", "console.cli", "console.sim", "console.promql",
            "console.sources", "console.rules.load", "console.metrics.panels", "console.demo"]


def test_headless_modules_do_not_import_textual():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in HEADLESS)
            + "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
            + "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_time_is_read_only_in_the_clock_module():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parent.parent
    pattern = re.compile(r"time\.time\(\)|datetime\.now\(|datetime\.utcnow\(|time\.monotonic\(\)")
    offenders = []
    for pkg in ("console", "widgets", "screens"):
        for path in (root / pkg).rglob("*.py"):
            if path.name == "clock.py" and path.parent.name == "console":
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(root)}:{n}")
    assert offenders == []


def test_the_demo_path_does_not_import_httpx():
    # httpx (~5 MiB resident) serves mitigations, silences, sent alerts and `attach`, loaded on their first use;
    # polls go through aiohttp, so starting the demo's TUI must not pull it in
    code = ("import sys\nimport console.cli, console.session, console.demo, screens.app, screens.dashboard\n"
            "print('httpx' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
