"""The command line as a user runs it: `opsconsole sim` + `snapshot --config`, `snapshot --demo`, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

OPSCONSOLE = [sys.executable, "-m", "console.cli"]


def test_snapshot_demo_on_virtual_time_reports_a_firing_scenario_with_exit_1():
    out = subprocess.run(OPSCONSOLE + ["snapshot", "--demo", "--scenario", "conversion-stall", "--for", "6m",
                                       "--virtual-time", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["services"]["pulse"]["figures"]["status_reported"] == "stale"
    firing = {r["name"] for r in doc["rules"] if r["state"] == "firing"}
    assert "ConversionPipelineStall" in firing
    assert all(r["severity"] in ("P1", "P2", "P3", "P4") for r in doc["rules"])


def test_sim_then_snapshot_against_its_config(tmp_path):
    cfg = tmp_path / "fleet.toml"
    proc = subprocess.Popen(OPSCONSOLE + ["sim", "--write-config", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        env = dict(os.environ)
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.strip().startswith("export "):
                k, v = line.strip()[len("export "):].split("=", 1)
                env[k] = v
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        assert "conversion" in text and "http://127.0.0.1:" in text and cfg.exists()
        out = subprocess.run(OPSCONSOLE + ["snapshot", "--config", str(cfg), "--for", "3s", "--json"],
                             capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode in (0, 1), out.stderr
        doc = json.loads(out.stdout)
        assert set(doc["services"]) == {"pulse", "storytailor", "converge", "path-tracker", "datapipe"}
        for name, svc in doc["services"].items():
            assert svc["status"] == "ok", (name, svc["error"])
        # the written config names env vars, never the secret values
        written = cfg.read_text()
        for k, v in env.items():
            if k.startswith("OPSCONSOLE_DEMO_"):
                assert v not in written
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_unknown_scenario_is_bad_usage():
    out = subprocess.run(OPSCONSOLE + ["snapshot", "--demo", "--scenario", "nope", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "unknown scenario 'nope'" in out.stderr


def test_wrong_credentials_show_on_the_panel_and_others_keep_working(tmp_path):
    cfg = tmp_path / "fleet.toml"
    proc = subprocess.Popen(OPSCONSOLE + ["sim", "--write-config", str(cfg)], stdout=subprocess.PIPE, text=True)
    try:
        env = dict(os.environ)
        for line in iter(proc.stdout.readline, ""):
            if line.strip().startswith("export "):
                k, v = line.strip()[len("export "):].split("=", 1)
                env[k] = v
            if line.startswith("Ctrl-C"):
                break
        env["OPSCONSOLE_DEMO_PULSE_PASSWORD"] = "wrong-password"
        out = subprocess.run(OPSCONSOLE + ["snapshot", "--config", str(cfg), "--for", "2s", "--json"],
                             capture_output=True, text=True, timeout=60, env=env)
        doc = json.loads(out.stdout)
        pulse = doc["services"]["pulse"]
        assert pulse["status"] == "error"
        assert "HTTP 401 unauthorized (basic auth as admin refused)" in pulse["error"]
        assert "wrong-password" not in out.stdout
        assert doc["services"]["converge"]["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_help_lists_every_scenario_and_what_it_trips():
    from console.sim.scenarios import SCENARIOS

    out = subprocess.run([*OPSCONSOLE, "demo", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0
    listed = [line.split()[0] for line in out.stdout.split("scenarios (--scenario NAME):\n")[1].splitlines()]
    assert listed == list(SCENARIOS)
    assert "debt-surge            Converge: intents ×6" in out.stdout and "→ debt_score > 70" in out.stdout
