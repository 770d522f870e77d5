"""`opsconsole rules check|test|export` against the real promtool 2.42 (the oracle)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import require_binary

DATA = Path(__file__).parent / "data" / "rules"


def opsconsole(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([require_binary("promtool"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for f in DATA.glob("*.yml"):
        shutil.copy(f, tmp_path / f.name)
    r = opsconsole("rules", "export", "--format", "prometheus", "-o", str(tmp_path / "exported.yml"))
    assert r.returncode == 0, r.stderr
    return tmp_path


def _our_groups(out: str) -> list[bool]:
    return [m[1] == "SUCCESS" for m in re.finditer(r"^  test \d+.*: (SUCCESS|FAILED)", out, re.M)]


def _promtool_groups(workdir: Path, test_file: str) -> list[bool]:
    """promtool reports per file: run it on one file per test group."""
    doc = yaml.safe_load((workdir / test_file).read_text())
    verdicts = []
    for i, group in enumerate(doc["tests"]):
        single = workdir / f"single-{i}-{test_file}"
        single.write_text(yaml.safe_dump({**doc, "tests": [group]}, sort_keys=False))
        r = promtool("test", "rules", single.name, cwd=workdir)
        assert "rule_files" not in r.stderr, r.stderr
        verdicts.append(r.returncode == 0)
    return verdicts


@pytest.mark.external
@pytest.mark.parametrize("test_file,expected", [
    ("pass.yml", None), ("fail.yml", None), ("runbooks.yml", [True, True, False]),
    ("templates.yml", None),
])
def test_rules_test_agrees_with_promtool_on_every_group(workdir, test_file, expected):
    ours = opsconsole("rules", "test", "--semantics", "prometheus-2", test_file, cwd=workdir)
    mine = _our_groups(ours.stdout)
    theirs = _promtool_groups(workdir, test_file)
    assert mine == theirs, ours.stdout
    if test_file in ("pass.yml", "templates.yml"):
        assert all(mine) and ours.returncode == 0
    elif test_file == "fail.yml":
        assert mine and not any(mine) and ours.returncode == 1
    else:
        assert mine == expected


def test_rules_test_reports_what_differs(workdir):
    r = opsconsole("rules", "test", "--semantics", "prometheus-2", "fail.yml", cwd=workdir)
    assert r.returncode == 1
    assert 'got:[{Labels:{alertname="InstanceDown", host="gamma", instance="gamma:1"} ' \
           'Annotations:{summary="Gamma is down (gamma:1)"}}]' in r.stdout
    assert "got: job:errors:rate5m{job=\"api\"} 0.16666666666666669" in r.stdout


BAD_RULES = {
    "unknown_field.yml": "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    severity: x\n",
    "no_expr.yml": "groups:\n- name: g\n  rules:\n  - alert: A\n",
    "bad_promql.yml": "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(up\n",
    "both.yml": "groups:\n- name: g\n  rules:\n  - alert: A\n    record: b\n    expr: up\n",
    "bad_template.yml": "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n"
                        "    annotations:\n      summary: '{{ nosuchfunc $value }}'\n",
    "unclosed.yml": "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n"
                    "    annotations:\n      summary: '{{ if $value }}x'\n",
    "record_name.yml": "groups:\n- name: g\n  rules:\n  - record: 'a b'\n    expr: up\n",
    "record_for.yml": "groups:\n- name: g\n  rules:\n  - record: ab\n    expr: up\n    for: 5m\n",
    "dup_group.yml": "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n",
    "bad_duration.yml": "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: 5 minutes\n",
    "bad_regex.yml": "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: 'up{job=~\"a**\"}'\n",
    "bad_label.yml": "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      'a-b': x\n",
}


@pytest.mark.external
@pytest.mark.parametrize("name", sorted(BAD_RULES))
def test_rules_check_fails_where_promtool_fails(tmp_path, name):
    (tmp_path / name).write_text(BAD_RULES[name])
    ours = opsconsole("rules", "check", name, cwd=tmp_path)
    theirs = promtool("check", "rules", name, cwd=tmp_path)
    assert theirs.returncode == 1 and ours.returncode == 1, (ours.stdout, theirs.stdout, theirs.stderr)
    problems = [l for l in ours.stdout.splitlines() if l.startswith(f"{name}: ")]
    assert problems, ours.stdout  # one line per problem, naming the file


@pytest.mark.external
def test_rules_check_passes_where_promtool_passes(workdir):
    files = ["rules.yml", "exported.yml", "formats.yml"]
    ours = opsconsole("rules", "check", *files, cwd=workdir)
    theirs = promtool("check", "rules", *files, cwd=workdir)
    assert theirs.returncode == 0 and ours.returncode == 0, ours.stdout
    assert re.findall(r"SUCCESS: (\d+) rules found", ours.stdout) == \
        re.findall(r"SUCCESS: (\d+) rules found", theirs.stdout)


def test_bad_template_names_file_group_rule_and_construct(tmp_path):
    (tmp_path / "r.yml").write_text(
        "groups:\n- name: team\n  rules:\n  - alert: Busy\n    expr: up\n"
        "    annotations:\n      summary: '{{ range $labels }}x{{ end }}'\n")
    r = opsconsole("rules", "check", "r.yml", cwd=tmp_path)
    assert r.returncode == 1
    assert 'r.yml: group "team", rule 1, "Busy": annotation \'summary\': template: {{range}} ' \
           "is not supported" in r.stdout
