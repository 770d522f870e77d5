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


def test_the_tui_demo_path_leaves_the_simulators_servers_to_its_child():
    # `opsconsole demo` serves its fleet from a child process (console/sim_process.py): the console itself never
    # loads starlette or uvicorn (~4 MiB, ~40 ms); `snapshot --demo` and the tests keep the fleet in-process
    # nor yaml (only rule files need it) when the demo's rules are built
    code = ("import sys\nimport console.cli, console.sim_process, console.session, screens.app, screens.dashboard\n"
            "from console.catalog import build_catalog\nfrom console.demo import demo_config, DEMO_SERVICES\n"
            "build_catalog(demo_config({k: 'http://127.0.0.1:9' for k in DEMO_SERVICES}))\n"
            "print(sorted(m for m in ('starlette', 'uvicorn', 'console.sim.fleet', 'yaml') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_aiohttp_is_loaded_without_its_ca_store_and_leaves_the_stdlibs_intact():
    # aiohttp builds two TLS contexts at import (~0.1 s, ~3 MiB of CA store); polls never use them
    code = ("import ssl\nfrom console.sources.aiohttp_import import aiohttp\nmod = aiohttp()\n"
            "from aiohttp import connector\n"
            "print(connector._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca'],\n"
            "      connector._SSL_CONTEXT_VERIFIED.verify_mode == ssl.CERT_REQUIRED,\n"
            "      ssl.create_default_context().cert_store_stats()['x509_ca'] > 0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "True", "True"]  # trusts nothing itself, still verifies; ours loads the CAs


def test_the_demo_never_imports_pydantic_nor_prometheus_clients_package():
    # the config is msgspec Structs (console/config/strict.py): pydantic and its validators cost ~60 ms and ~19 MiB
    # of the console's start; nothing on the demo's path (config, catalog, actions, screens, first poll) needs it.
    # A scrape is read by prometheus_client's parser alone (console/sources/promtext_import.py): its package's
    # servers and collectors (~10 ms, ~1.4 MiB) are left to the simulator's child
    code = ("import sys\nimport console.cli, console.sim_process, console.session, console.demo, screens.app\n"
            "import screens.dashboard\nfrom console.catalog import build_catalog\n"
            "from console.demo import demo_config, DEMO_SERVICES\n"
            "build_catalog(demo_config({k: 'http://127.0.0.1:9' for k in DEMO_SERVICES}))\n"
            "from console.sources.aiohttp_import import aiohttp\naiohttp()\n"
            "from console.sources.exposition import parse_exposition\n"
            "assert parse_exposition('up 1', 'j', 'i')[0].labels == {'__name__': 'up', 'job': 'j', 'instance': 'i'}\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pydantic_core', 'prometheus_client'}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_demo_reads_its_shipped_files_and_opens_its_dashboard_without_what_it_does_not_show():
    # before the first live figure: the shipped rules, mitigations and playbooks are read from their parse cache
    # by path (console/shipped_toml.py), not through importlib.resources (its readers pull zipfile); the filter and
    # go-to dialogs are imported when first opened
    code = ("import sys\nimport console.cli, console.sim_process, console.session, console.demo, screens.app\n"
            "import screens.dashboard\nfrom console.catalog import build_catalog\n"
            "from console.demo import demo_config, DEMO_SERVICES\n"
            "from console.incidents.playbooks import PLAYBOOKS\nassert PLAYBOOKS\n"
            "build_catalog(demo_config({k: 'http://127.0.0.1:9' for k in DEMO_SERVICES}))\n"
            "from console.sources.aiohttp_import import aiohttp\naiohttp()\n"
            "print(sorted(m for m in ('importlib.resources', 'zipfile', 'screens.filter', 'screens.replay_goto')\n"
            "             if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
