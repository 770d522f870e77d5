"""Actions as data and their executor, against the simulator over loopback HTTP and moto's real SSM server."""

from __future__ import annotations

import asyncio
import sys
import tomllib
from pathlib import Path

import pytest

from console.mitigations.catalog import PlanError, load_actions, placeholders, render
from conftest import executor_for
from console.catalog import build_catalog
from console.config.schema import ConfigError, parse_config
from console.demo import demo_config_dict
from console.sources.pipelines import PIPELINES
from tests.test_ssm import put

URLS = {k: "http://127.0.0.1:1" for k in ("conversion", "pipelines", "converge", "path_tracker", "data_pipeline")}


def config_with(*actions: dict) -> dict:
    return {**demo_config_dict(URLS), "actions": list(actions)}


async def start(watch_factory, scenario: str = "normal", **kw):
    w = await watch_factory(scenario, tick=1.0, metrics_interval=1.0, **kw)
    ex = executor_for(w.engine, load_actions(w.engine.cfg))
    await ex.start()
    await w.run_for(3)
    return w, ex


# --- the catalog -----------------------------------------------------------------------------


def test_every_action_a_rule_names_is_built_in():
    actions = load_actions(parse_config(demo_config_dict(URLS), "<t>"))
    rules = tomllib.loads((Path(__file__).parents[1] / "console" / "rules" / "rules.toml").read_text())["rules"]
    named = {a for r in rules for a in r.get("actions", [])}
    assert named and named <= set(actions), named - set(actions)
    for a in actions.values():
        assert a.runbook.split("#")[0].endswith(".txt") and a.line, a.id  # each says where it comes from
        if a.inverse:
            assert actions[a.inverse].kind == a.kind


def test_templates_keep_types_and_refuse_unknown_values():
    values = {"p": 15, "allow": ["a"], "name": "x y", "missing": None}
    assert render({"percent": "{p}", "allowlist": "{allow}", "note": "at {p}%"}, values) == \
        {"percent": 15, "allowlist": ["a"], "note": "at 15%"}
    assert render("/flags/{name}", values, url=True) == "/flags/x%20y"
    with pytest.raises(PlanError, match="missing is unknown"):
        render("{missing}", values)
    assert placeholders(["a {b}", {"c": "{d}"}]) == {"b", "d"}


@pytest.mark.parametrize("table, key, problem", [
    ({"request": {"method": "POST", "path": "/x/{nope}"}}, "actions[0] (my.act).request.path",
     "unknown placeholder {nope}"),
    ({"request": {"method": "POST", "path": "/x", "body": {"a": "{unclosed"}}}, "actions[0] (my.act).request.body",
     "bad template"),
    ({"command": ["echo", "{id!r}"], "pick": "failed_executions"}, "actions[0] (my.act).command[1]",
     "bad placeholder"),
    ({"command": ["kubectl", "rollout", "restart", "{deployment}"]}, "actions[0] (my.act).command[3]",
     "unknown placeholder {deployment}"),
    ({"request": {"method": "POST", "path": "/x"}, "pick": "pipelines"}, "actions[0] (my.act).pick",
     "lists pipelines items, not data_pipeline"),
    ({"request": {"method": "POST", "path": "/x"}, "inverse": "data_pipeline.nothing"}, "actions[0] (my.act).inverse",
     "no action 'data_pipeline.nothing'"),
    ({"request": {"method": "POST", "path": "/x"}, "colour": "red"}, "actions[0] (my.act).colour", "unknown key"),
    ({}, "actions[0] (my.act)", "needs exactly one of request or command"),
])
def test_a_bad_config_action_is_rejected_at_load_naming_the_key(table, key, problem):
    with pytest.raises(ConfigError) as err:
        build_catalog(parse_config(config_with({"id": "my.act", "title": "T", "service": "datapipe", **table}), "ops.toml"))
    assert str(err.value).startswith(f"ops.toml: {key}: "), str(err.value)
    assert problem in str(err.value)


def test_a_config_action_must_name_a_service():
    with pytest.raises(ConfigError, match=r"ops.toml: actions\[0\] \(x\).service: no service named 'nope'"):
        build_catalog(parse_config(config_with({"id": "x", "title": "T", "service": "nope", "command": ["true"]}),
                                   "ops.toml"))


def test_an_inverse_may_only_use_values_the_action_captures():
    with pytest.raises(ConfigError, match=r"inverse: 'undo.it' needs \{id\}, which 'do.it' does not capture"):
        build_catalog(parse_config(config_with(
            {"id": "do.it", "title": "T", "service": "datapipe", "command": ["true"], "inverse": "undo.it"},
            {"id": "undo.it", "title": "U", "service": "datapipe", "command": ["echo", "{id}"],
             "pick": "failed_executions"}), "ops.toml"))


# --- the executor against the simulator --------------------------------------------------------


async def test_a_confirmed_action_is_verified_by_re_polling(watch_factory):
    w, ex = await start(watch_factory)
    rec = await ex.execute(ex.plan("converge.intake_throttle"))
    assert rec.status == "verifying" and rec.code == 200
    assert [(m.service, m.method, m.path, m.body) for m in w.fleet.mutations] == \
        [("converge", "POST", "/v1/intake/mode", {"mode": "throttle"})]
    await w.run_for(1)  # the expedited poll of /v1/intake/status
    assert rec.status == "confirmed" and rec.proof == "mode = throttle" and rec.answer.startswith("HTTP 200 {")
    assert w.engine.state.to_json()["actions"][0]["status"] == "confirmed"


async def test_two_presses_at_once_send_one_request(watch_factory):
    w, ex = await start(watch_factory)
    first, second = await asyncio.gather(ex.execute(ex.plan("converge.intake_pause")),
                                         ex.execute(ex.plan("converge.intake_pause")))
    assert len(w.fleet.mutations) == 1
    assert sorted([first.status, second.status]) == ["refused", "verifying"]
    refused = first if first.status == "refused" else second
    assert "already in flight" in refused.answer


async def test_a_5xx_fails_and_is_not_retried(watch_factory):
    w, ex = await start(watch_factory)
    plan = ex.plan("data_pipeline.retry_execution", ex.items("data_pipeline.retry_execution")[0])
    w.fleet.set_scenario("service-down")  # from now on every request answers 503
    rec = await ex.execute(plan)
    assert rec.status == "failed" and rec.code == 503 and rec.answer.startswith("HTTP 503")
    await w.run_for(5)
    assert [m.status for m in w.fleet.mutations] == [503]  # sent once, never again


async def test_unknown_state_refuses_to_plan(watch_factory):
    w, ex = await start(watch_factory)
    await ex.execute(ex.plan("path_tracker.advance"))  # 35 → 60
    await w.run_for(1)
    await ex.execute(ex.plan("path_tracker.advance"))  # 60 → 100
    await w.run_for(1)
    with pytest.raises(PlanError, match="next_percent is unknown"):
        ex.plan("path_tracker.advance")  # nothing after 100


async def test_command_line_actions_run_without_a_shell(watch_factory, tmp_path):
    out = tmp_path / "argv.txt"
    script = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(repr(sys.argv[2:])); print('restarted')"
    cfg_table = config_with({"id": "datapipe.note", "title": "Note an execution", "service": "datapipe", "key": "N",
                             "pick": "failed_executions", "command": [sys.executable, "-c", script, str(out),
                                                                      "{pipeline_id}; rm -rf /", "$HOME"]})
    w = await watch_factory(tick=1.0, metrics_interval=1.0, actions=cfg_table["actions"])
    ex = executor_for(w.engine, load_actions(w.engine.cfg))
    await ex.start()
    await w.run_for(3)
    item = ex.items("datapipe.note")[0]
    plan = ex.plan("datapipe.note", item)
    assert plan.steps[0].summary().startswith("$ ")
    rec = await ex.execute(plan)
    assert rec.status == "confirmed" and rec.code == 0 and rec.answer == "exit 0: restarted"
    assert out.read_text() == repr([f"{item['pipeline_id']}; rm -rf /", "$HOME"])  # literal: no shell
    assert w.fleet.mutations == []


async def test_read_only_refuses_before_the_network(watch_factory):
    w = await watch_factory(tick=1.0, metrics_interval=1.0, read_only=True)
    ex = executor_for(w.engine, load_actions(w.engine.cfg))
    await ex.start()
    await w.run_for(3)
    rec = await ex.execute(ex.plan("conversion.disable_all"))
    assert rec.status == "refused" and rec.answer.startswith("read-only")
    assert w.fleet.mutations == []


# --- the ssm provider against moto's server ----------------------------------------------------


@pytest.mark.usefixtures("aws_env")
@pytest.mark.external
async def test_ssm_switch_flip_lists_flips_and_reads_back(watch_factory, moto_url):
    path = "/storytailor-production/pipelines/"
    for p in PIPELINES:
        put(moto_url, f"{path}{p}/enabled", "true")
    w = await watch_factory(tick=1.0, metrics_interval=1.0)
    services = [s.model_copy(update={"switches": s.switches.model_copy(update={
        "provider": "ssm", "endpoint_url": moto_url})}) if s.kind == "pipelines" else s for s in w.engine.cfg.services]
    w.engine.cfg = w.engine.cfg.model_copy(update={"services": services})
    await w.engine.stop()
    await w.engine.start()  # sources rebuilt: the switches come from SSM now
    ex = executor_for(w.engine, load_actions(w.engine.cfg))
    await ex.start()
    await w.run_for(2)
    assert sorted(i["key"] for i in ex.items("pipelines.flip_switch")) == sorted(PIPELINES)  # listed by path
    plan = ex.plan("pipelines.flip_switch", "weekly-insights")
    assert plan.steps[0].summary() == \
        'SSM PutParameter /storytailor-production/pipelines/weekly-insights/enabled = "false" (overwrite)'
    rec = await ex.execute(plan)
    assert rec.status == "verifying", rec.answer
    await w.run_for(1)
    assert rec.status == "propagating" and "enabled = false" in rec.proof
    switches = {s["pipeline"]: s["enabled"] for s in w.engine.state.services["storytailor"].data("switches")["switches"]}
    assert switches["weekly-insights"] is False and sum(switches.values()) == 7
    assert w.fleet.mutations == []  # SSM, not the simulator's http form


async def test_a_timeout_fails_and_is_not_retried(watch_factory):
    import socket

    silent = socket.socket()  # listens (the kernel completes the handshake) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        w = await watch_factory(tick=1.0, metrics_interval=1.0, actions=[
            {"id": "slow.poke", "title": "Poke", "service": "datapipe", "request": {"method": "POST", "path": "/poke"}}])
        svc = [s.model_copy(update={"url": url, "timeout": 0.3}) if s.name == "datapipe" else s
               for s in w.engine.cfg.services]
        w.engine.cfg = w.engine.cfg.model_copy(update={"services": svc})
        ex = executor_for(w.engine, load_actions(w.engine.cfg))
        await ex.start()
        rec = await ex.execute(ex.plan("slow.poke"))
        assert rec.status == "failed" and rec.code is None
        assert rec.answer == "timeout after 0.3s (not retried: it may or may not have applied)"
        assert ex.refusal(ex.plan("slow.poke")) is None  # settled: the user may decide to press again
    finally:
        silent.close()
