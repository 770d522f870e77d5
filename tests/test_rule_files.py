"""Prometheus rule files in the console: loaded from the config, evaluated over the simulator, incidents."""

from __future__ import annotations

import re

import pytest

from console import promql
from console.config.schema import ConfigError, load_config
from console.rules.load import load_rules
from console.rules.templates import compile_template

RULES = """
groups:
  - name: datapipe
    rules:
      - record: job:http_requests:rate1m
        expr: sum by (job) (rate(http_requests_total[1m]))
      - alert: DatapipeServing
        expr: job:http_requests:rate1m > 0
        for: 15s
        labels:
          severity: sev1
        annotations:
          summary: '{{ $labels.job }} serves {{ $value | humanize }} req/s'
          description: 'seen in {{ $externalLabels.cluster }}'
          runbook_url: 'https://runbooks.example/{{ $labels.job }}'
      - alert: Orphan
        expr: label_replace(vector(1), "job", "ghost", "", "")
        labels:
          severity: warning
        annotations:
          summary: 'the ghost job has no service'
"""


async def test_rule_file_alerts_open_incidents_with_rendered_texts(tmp_path, watch_factory):
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "datapipe.yml").write_text(RULES)
    w = await watch_factory("normal", tick=5.0, metrics_interval=5.0,
                            rule_files=[str(tmp_path / "team" / "*.yml")],
                            external_labels={"cluster": "eu-1"}, severity_map={"sev1": "P1"})
    await w.run_for(90)
    serving = w.rule("DatapipeServing")
    assert serving is not None and serving.state == "firing", w.engine.state.rules
    assert (serving.service, serving.severity) == ("datapipe", "P1")
    assert re.fullmatch(r"datapipe serves [\d.]+k? req/s", serving.summary), serving.summary
    assert serving.description == "seen in eu-1"
    assert serving.runbook == "https://runbooks.example/datapipe"
    # the recording rule's series is in the store, readable by any later expression
    recorded = w.engine.query("job:http_requests:rate1m", w.clock.now())
    assert [labels for labels, _ in recorded] == [{"__name__": "job:http_requests:rate1m", "job": "datapipe"}]
    assert serving.value == pytest.approx(recorded[0][1])

    incidents = {i.rule: i for i in w.engine.incidents.incidents.values()}
    inc = incidents["DatapipeServing"]
    assert inc.title == "DatapipeServing on datapipe" and inc.severity == "P1"
    # rendered when it opened (the rule's own summary follows its value every tick)
    assert re.fullmatch(r"datapipe serves [\d.]+k? req/s", inc.summary), inc.summary
    assert inc.info == {"description": "seen in eu-1"}
    orphan = incidents["Orphan"]
    assert orphan.service == "" and orphan.title.startswith("Orphan on unassigned")
    assert orphan.severity == "P3" and orphan.summary == "the ghost job has no service"


def _config(tmp_path, rules_text: str, pattern: str = "rules/*.yml"):
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "a.yml").write_text(rules_text)
    cfg = tmp_path / "console.toml"
    cfg.write_text(f'rule_files = ["{pattern}"]\n[[services]]\nname = "api"\nkind = "scrape"\n'
                   'url = "http://127.0.0.1:1"\n')
    return cfg


def test_rule_files_resolve_relative_to_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    cfg = _config(tmp_path, RULES)
    rules = load_rules(load_config(cfg), promql.check)
    from_file = [r for r in rules if r.origin]
    assert [(r.name, r.record) for r in from_file] == [
        ("job:http_requests:rate1m", True), ("DatapipeServing", False), ("Orphan", False)]
    assert from_file[1].for_ == 15.0


@pytest.mark.parametrize("body,fragment", [
    ("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n"
     "      summary: '{{ query \"up\" }}'\n",
     'a.yml: group "g", rule 1, "A": annotation \'summary\': template: function \'query\' is not supported'),
    ("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: 'up{job=~\"[[:alpha:]\"}'\n",
     'a.yml: group "g", rule 1, "A": could not parse expression'),
    ("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: histogram_count(x)\n",
     "unsupported PromQL: function 'histogram_count'"),
])
def test_a_rule_file_problem_is_one_line_at_load(tmp_path, body, fragment):
    cfg = _config(tmp_path, body)
    with pytest.raises(ConfigError) as e:
        load_rules(load_config(cfg), promql.check)
    msg = str(e.value)
    assert msg.startswith(f"{cfg}: rule_files: ") and fragment in msg and "\n" not in msg


def test_a_missing_rule_file_is_a_load_error(tmp_path):
    cfg = _config(tmp_path, RULES, pattern="nope.yml")
    with pytest.raises(ConfigError, match="nope.yml: cannot read"):
        load_rules(load_config(cfg), promql.check)


@pytest.mark.parametrize("text,value,want", [
    ("{{ $value }}", 1e6, "1e+06"),
    ("{{ $value }}", 123456.0, "123456"),
    ("{{ $value | humanize }}", 1234567.0, "1.235M"),
    ("{{ $value | humanize }}", 0.00123, "1.23m"),
    ("{{ humanize1024 $value }}", 2048.0, "2ki"),
    ("{{ $value | humanizeDuration }}", 3700.0, "1h 1m 40s"),
    ("{{ $value | humanizeDuration }}", 0.25, "250ms"),
    ("{{ $value | humanizeDuration }}", 1e21, "-106751991167300d -15h -30m -8s"),  # Go's int64 overflow
    ("{{ $value | humanizePercentage }}", 0.123456, "12.35%"),
    ("{{ printf \"%.2f/%d/%s\" $value 3 \"x\" }}", 2.5, "2.50/3/x"),
    ("{{ printf \"%d %s\" $value 3 }}", 2.0, "%!d(float64=2) %!s(int=3)"),
    ("{{ $labels.job | toUpper }}-{{ title \"a b\" }}-{{ $labels.missing }}.", 0.0, "API-A B-."),
    ("{{- \" x \" -}} | {{ if lt $value 1.0 }}low{{ else if lt $value 5.0 }}mid{{ else }}high{{ end }}",
     3.0, " x | mid"),
    ("{{ $job := $labels.job }}{{ $job }}{{/* a comment */}}", 0.0, "api"),
    ("{{ reReplaceAll \"(\\\\w+):(\\\\d+)\" \"$2@$1\" \"host:80\" }}", 0.0, "80@host"),
])
def test_templates_render_as_prometheus_does(text, value, want):
    assert compile_template(text).render({"job": "api"}, value) == want


def test_a_template_failing_on_its_data_reads_as_prometheus_writes_it():
    # Go refuses to compare a float64 with an int constant: Prometheus keeps the alert and writes
    # the error into the annotation; the console does the same, never a blank.
    from console.rules.alertinfo import AlertContext, render_alert
    from console.rules.load import from_file_rule
    from console.rules.promfile import parse_text

    groups = parse_text("groups:\n- name: g\n  rules:\n  - alert: Hot\n    expr: up\n    annotations:\n"
                        "      summary: '{{ if gt $value 80 }}hot{{ end }}'\n", "r.yml", promql.check)
    rule = from_file_rule(groups[0].rules[0])
    info = render_alert(rule, {"__name__": "up", "job": "api"}, 90.0, AlertContext({"api": "api"}))
    assert info["summary"] == "<error expanding template: error calling gt: incompatible types for comparison>"
    assert info["service"] == "api" and info["labels"] == {"job": "api", "alertname": "Hot"}


async def test_a_rule_file_incident_on_screen(tmp_path):
    """The console on a config with rule_files, over the simulator: what the on-call reads."""
    from console.clock import VirtualClock
    from console.config.writer import write_config
    from console.demo import Demo, demo_config_dict
    from console.session import Session
    from screens.app import OpsApp
    from tests.conftest import START, advance_app, screen_text

    clock = VirtualClock(START)
    demo = Demo(clock, scenario="normal", seed=1)
    urls = await demo.fleet.start(host="127.0.0.1")
    try:
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "datapipe.yml").write_text(RULES)
        data = demo_config_dict(urls, tick=5.0)
        data.update(rule_files=["rules/*.yml"], external_labels={"cluster": "eu-1"},
                    severity_map={"sev1": "P1"}, record=False)
        write_config(str(tmp_path / "console.toml"), data)
        app = OpsApp(Session(config_path=str(tmp_path / "console.toml"), clock=clock), autorun=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await advance_app(app, pilot, 90, 5.0)
            text = screen_text(app)
            # the incident table (titles cut to the column): severity from the map, and unassigned
            # at 160 columns the severity sits under the id (the update column keeps its room)
            assert re.search(r"● triggered\s+DatapipeServing on datapipe[^\n]*\n[^\n]*P1\s+ack", text), text
            assert re.search(r"● triggered\s+Orphan on unassigned[^\n]*\n[^\n]*P3\s+ack", text), text
            inc = next(i for i in app.session.engine.state.incidents if i.rule == "DatapipeServing")
            app.open_incident(inc.id)
            await app.workers.wait_for_complete()
            await pilot.pause()
            detail = screen_text(app)
            assert "seen in eu-1" in detail, detail  # the rendered description
            assert re.search(r"datapipe serves [\d.]+k? req/s", detail), detail  # the summary
    finally:
        await demo.stop()


def test_a_group_interval_spaces_its_evaluations():
    """`interval: 30s` on a group: its rules run every 30 s, not every tick (recorded samples too)."""
    from console.metrics.store import SeriesStore
    from console.promql import evaluate
    from console.rules.lifecycle import RuleEvaluator
    from console.rules.load import from_file_rule
    from console.rules.promfile import parse_text

    groups = parse_text("groups:\n- name: g\n  interval: 30s\n  rules:\n  - record: two\n    expr: vector(2)\n"
                        "  - alert: Always\n    expr: vector(1)\n    for: 40s\n", "r.yml", promql.check)
    rules = [from_file_rule(r, groups[0].interval) for r in groups[0].rules]
    store = SeriesStore(retention=1e9, keep=lambda n: True)
    ev = RuleEvaluator(rules, record=store.add_many)
    states = {}
    for t in range(0, 91, 5):
        states[t] = [s.state for s in ev.evaluate(float(t), lambda e, at: evaluate(e, store, at))]
    # evaluated at 0, 30, 60, 90: pending from 0, firing from the first evaluation 40 s later (60)
    assert states[55] == ["pending"] and states[60] == ["firing"]
    (_, recorded), = store.series("two")
    assert [t for t, _ in recorded.samples()] == [0.0, 30.0, 60.0, 90.0]


def test_group_labels_and_query_offset():
    from console.rules.alertinfo import AlertContext, render_alert
    from console.rules.load import from_file_rule
    from console.rules.promfile import parse_text

    groups = parse_text("groups:\n- name: g\n  query_offset: 1m\n  labels:\n    team: infra\n    severity: warning\n"
                        "  rules:\n  - alert: A\n    expr: up\n    labels:\n      severity: critical\n",
                        "r.yml", promql.check)
    assert groups[0].query_offset == 60.0
    rule = from_file_rule(groups[0].rules[0], 0.0, groups[0].query_offset)
    info = render_alert(rule, {"__name__": "up", "job": "x"}, 0.0, AlertContext())
    assert info["labels"] == {"job": "x", "team": "infra", "severity": "critical", "alertname": "A"}
    assert info["severity"] == "P1" and rule.query_offset == 60.0
