"""Config loading: the example is valid; every bad config is one line naming file, key and problem, exit 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from console import promql
from console.catalog import build_catalog
from console.config.schema import ConfigError, load_config
from console.rules.load import load_rules

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_is_valid_and_documents_every_kind():
    cfg = load_config(ROOT / "config.example.toml")
    assert {s.kind for s in cfg.services} == {"conversion", "pipelines", "converge", "path_tracker", "data_pipeline", "scrape"}
    assert cfg.service("datapipe").job == "convergence-data-pipeline"
    assert cfg.service("pulse").instance == "127.0.0.1:7655"
    rules = load_rules(cfg, promql.check)
    names = {r.name for r in rules}
    assert "NodeDown" in names and "InsightsVetoRateLow" not in names
    assert next(r for r in rules if r.name == "HighLatencyP95").for_ == 300
    actions = build_catalog(cfg).actions  # its [[actions]] load, keyed on their service's panel
    assert actions["datapipe.restart"].key == "R" and actions["datapipe.retry_tenant"].pick == "failed_executions"
    prod = cfg.with_environment("production")
    assert prod.read_only and prod.production
    assert prod.service("pulse").url == "https://pulse.example.internal"


def test_example_config_has_no_inline_secret():
    text = (ROOT / "config.example.toml").read_text()
    for key in ("password =", "token =", "value =", "api_key ="):
        assert key not in text


@pytest.mark.parametrize("body, expected", [
    ('[[services]]\nname="a"\nkind="nope"\nurl="http://x"\n', "services[0] (a): unknown service kind 'nope'"),
    ('[[services]]\nname="a"\nkind="scrape"\nurl="ftp://x"\n', "services[0] (a): url must start with http://"),
    ('[[services]]\nname="a"\nkind="scrape"\nurl="http://x"\ninterval="soon"\n', "services[0] (a).interval: not a duration: 'soon'"),
    ('[[services]]\nname="a"\nkind="scrape"\nurl="http://x"\n[services.auth]\ntype="basic"\nusername="u"\n', "services[0] (a).auth: auth type 'basic' needs password_env"),
    ('[[services]]\nname="a"\nkind="scrape"\nurl="http://x"\npassword="hunter2"\n', "services[0] (a).password: unknown key"),
    ('promql_semantics = "prometheus-9"\n', "promql_semantics:"),
    ('this is = = not toml', "not valid TOML"),
    ('[[services]]\nname="a"\nkind="scrape"\nurl="http://x:99999"\n', "services[0] (a): url 'http://x:99999': Port out of range"),
    ('[[services]]\nname="a"\nkind="scrape"\nurl="http://x:0"\n', "services[0] (a): url 'http://x:0': port 0"),
    ('[[services]]\nname="a"\nkind="scrape"\nurl="http://:80"\n', "services[0] (a): url 'http://:80' has no host"),
    ('[[services]]\nname="a"\nkind="scrape"\nurl="http://x"\n[[rules]]\nname="R"\nservice="nope"\n',
     "rules[0] (R): rule 'R': unknown service kind 'nope'"),
    ('', "services: no service configured"),
    ('environment = "prod"\n', "services: no service configured"),
    ('[alertmanager]\nsend = true\n', "alertmanager: send = true needs urls (or a service of kind alertmanager)"),
    ('[alertmanager]\nurls = ["http://u:pw@am:9093"]\n', "alertmanager: url must not hold credentials"),
])
def test_bad_config_names_file_and_key(tmp_path, body, expected):
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and expected in msg
    assert "\n" not in msg


SVC = '[[services]]\nname="a"\nkind="scrape"\nurl="http://x"\n'


@pytest.mark.parametrize("body, expected", [
    ('promql_semantics = "prometheus-9"\n' + SVC,
     "promql_semantics: must be one of 'prometheus-3', 'prometheus-2', got 'prometheus-9'"),
    ('severity_map = { page = "P9" }\n' + SVC, "severity_map.page: must be one of 'P1', 'P2', 'P3', 'P4', got 'P9'"),
    ('[[services]]\nname="a"\nkind="scrape"\n', "services[0] (a).url: missing (this key is required)"),
    (SVC + 'interval = true\n', "services[0] (a).interval: not a duration: True"),
    (SVC + 'metrics_interval = "0s"\n', "services[0] (a): interval, metrics_interval and timeout must be positive"),
    ('record_max_size = "lots"\n' + SVC, "record_max_size: not a size: 'lots'"),
    ('services = "pulse"\n', "services: expected array, got str"),
    (SVC + '[alertmanager]\nqueue = "many"\n', "alertmanager.queue: expected int, got str"),
    (SVC + '[environments.prod.urls]\na = 3\n', "environments.prod.urls.a: expected str, got int"),
    (SVC + '[serve]\n[[serve.tokens]]\nenv = "T"\nrole = "admin"\n',
     "serve.tokens[0].role: must be one of 'read', 'operate', got 'admin'"),
])
def test_each_kind_of_typed_mistake_is_one_line_naming_the_key(tmp_path, body, expected):
    # the schema is msgspec Structs: its errors are rephrased as the file reads (a dict's key found again, a
    # Literal's choices listed, TOML's names for types)
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}: {expected}")
    assert "\n" not in str(e.value) and "$." not in str(e.value)


def test_bad_rule_expression_is_rejected_at_load(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[[services]]\nname="n"\nkind="scrape"\nurl="http://x"\n'
                 '[[rules]]\nname="X"\nservice="scrape"\nseverity="P3"\nexpr="histogram_avg(up) > 0"\n')
    with pytest.raises(ConfigError) as e:
        load_rules(load_config(p), promql.check)
    assert "rules (X).expr" in str(e.value) and "histogram_avg" in str(e.value)


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[[services]]\nname="a"\nkind="mystery"\nurl="http://x"\n')
    r = subprocess.run([sys.executable, "-m", "console.cli", "snapshot", "--config", str(p), "--json"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    line = r.stderr.strip()
    assert line.startswith(f"opsconsole: {p}: services[0] (a): unknown service kind 'mystery' (one of conversion, ")
    assert "\n" not in line
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_unwritable_data_dir_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OPSCONSOLE_DATA_DIR")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    p = tmp_path / "c.toml"
    p.write_text(f'data_dir = "{blocker}/data"\n[[services]]\nname="n"\nkind="scrape"\nurl="http://x"\n')
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}: data_dir: ") and "\n" not in str(e.value)
    env = {k: v for k, v in os.environ.items() if k != "OPSCONSOLE_DATA_DIR"}
    out = subprocess.run([sys.executable, "-m", "console.cli", "snapshot", "--config", str(p), "--for", "1s"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and out.stderr.startswith(f"opsconsole: {p}: data_dir: ") and "Traceback" not in out.stderr
