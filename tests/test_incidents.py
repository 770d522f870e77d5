"""Incidents headless: opened by rules over the real simulator, lifecycle, timers, persistence, playbooks, drafts."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from console import promql
from console.incidents import comms
from console.mitigations.catalog import builtin_actions
from console.engine import Engine
from console.events import IncidentChanged, MitigationAudited
from console.incidents.manager import REOPEN_GRACE, UPDATE_EVERY, IncidentError
from console.model import Observation
from console.incidents.playbooks import GENERAL, PLAYBOOKS, live_value, playbook_for, split_threshold
from console.rules.load import shipped

USER = "tester@war-room"


@pytest.fixture(autouse=True)
def _user(monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_USER", USER)


def incident(engine, rule: str):
    return next((i for i in engine.incidents.incidents.values() if i.rule == rule), None)


async def stalled(watch_factory):
    """A fleet whose Pulse pipeline stalls after a minute; returns it once the stall's incident is open."""
    w = await watch_factory("normal", tick=10.0, metrics_interval=10.0)
    await w.run_for(60)
    w.fleet.set_scenario("conversion-stall")
    await w.run_for(330)
    inc = incident(w.engine, "ConversionPipelineStall")
    assert inc is not None, [i.key for i in w.engine.incidents.incidents.values()]
    return w, inc


# --- opening, one per identity, recovery, reopening ---------------------------------------------

async def test_firing_rule_opens_one_incident_with_its_playbook_and_value(watch_factory):
    w, inc = await stalled(watch_factory)
    assert inc.state == "triggered" and inc.severity == "P2" and inc.source == "rule"
    assert inc.key == "ConversionPipelineStall/pulse" and inc.service == "pulse"
    assert inc.runbook == "000_2bb508581d47b89e.txt#Pipeline Stall" and inc.value == 1
    assert inc.timeline[0].text.startswith("opened") and inc.timeline[0].who == "console"
    await w.run_for(300)  # still firing: no second incident for the same identity
    same = [i for i in w.engine.incidents.incidents.values() if i.key == inc.key]
    assert same == [inc]
    doc = w.engine.state.to_json()
    mine = next(d for d in doc["incidents"] if d["id"] == inc.id)
    assert mine["state"] == "triggered" and mine["timers"]["acknowledge"]["over"] is True


async def test_recovered_when_rule_stops_and_resolve_stays_human(watch_factory):
    w, inc = await stalled(watch_factory)
    w.fleet.set_scenario("normal")
    await w.run_for(60)
    assert inc.recovered_at is not None and inc.state == "triggered"  # recovered, not resolved
    assert any(e.kind == "recovered" for e in inc.timeline)
    assert inc.timers(w.clock.now())[2].done  # the bleeding stopped: mitigate target met


async def test_refire_within_grace_reopens_and_after_grace_opens_a_new_one(watch_factory):
    w, inc = await stalled(watch_factory)
    w.fleet.set_scenario("normal")
    await w.run_for(60)
    w.engine.incidents.resolve(inc.id, resolution="restarted Pulse")
    w.fleet.set_scenario("conversion-stall")
    await w.run_for(330)
    assert incident(w.engine, "ConversionPipelineStall") is inc
    assert inc.state == "triggered" and inc.recovered_at is None
    assert any(e.text.startswith("reopened") for e in inc.timeline)
    # resolved, cleared, and quiet for longer than the grace: the next firing is a new incident
    w.fleet.set_scenario("normal")
    await w.run_for(60)
    w.engine.incidents.resolve(inc.id)
    await w.run_for(REOPEN_GRACE + 60, step=30.0)
    w.fleet.set_scenario("conversion-stall")
    await w.run_for(330)
    fresh = [i for i in w.engine.incidents.incidents.values() if i.key == inc.key and i.is_open]
    assert len(fresh) == 1 and fresh[0].id != inc.id and inc.state == "resolved"


# --- the human transitions -----------------------------------------------------------------------

async def test_transitions_are_timestamped_attributed_and_checked(watch_factory):
    w, inc = await stalled(watch_factory)
    mgr, base, lead = w.engine.incidents, w.clock.now(), w.clock.now() - inc.opened_at
    w.clock.advance(120)
    await mgr.acknowledge(inc.id, comment="looking")
    w.clock.advance(300)
    mgr.mitigating(inc.id)
    with pytest.raises(IncidentError, match="mitigating: cannot acknowledge"):
        await mgr.acknowledge(inc.id)
    with pytest.raises(IncidentError, match="cannot document"):
        mgr.document(inc.id)
    w.clock.advance(600)
    mgr.resolve(inc.id, resolution="restarted Pulse", root_cause="handler deadlock")
    mgr.document(inc.id, note="postmortem PM-12")
    states = [(e.state, e.who, e.ts - base) for e in inc.timeline if e.kind == "state"]
    assert states == [("triggered", "console", -lead), ("acknowledged", USER, 120), ("mitigating", USER, 420),
                      ("resolved", USER, 1020), ("documented", USER, 1020)]
    ack, assess, mitigate = inc.timers(w.clock.now())
    assert (ack.elapsed, ack.over, assess.elapsed, assess.over) == (lead + 120, False, lead + 420, False)
    assert mitigate.done and mitigate.elapsed == lead + 1020
    assert inc not in w.engine.incidents.visible()  # documented: off the table, still in the store


async def test_incident_events_reach_the_hubs_subscribers(watch_factory):
    w = await watch_factory("conversion-stall", tick=5.0)
    seen: list[tuple[str, str]] = []
    w.engine.hub.subscribe(IncidentChanged, lambda ev: seen.append((ev.event, ev.id)))
    await w.run_for(330)
    inc = incident(w.engine, "ConversionPipelineStall")
    await w.engine.incidents.acknowledge(inc.id)
    assert ("opened", inc.id) in seen and ("acknowledge", inc.id) in seen


async def test_p1_p2_update_countdown_resets_when_an_update_goes_out(watch_factory):
    w, inc = await stalled(watch_factory)
    assert inc.next_update() == inc.opened_at + UPDATE_EVERY
    w.clock.advance(UPDATE_EVERY + 60)
    assert w.clock.now() > inc.next_update()  # overdue: the table shows it red with ▲
    w.engine.incidents.record_update(inc.id, "update", "copied to the clipboard")
    assert inc.next_update() == w.clock.now() + UPDATE_EVERY
    w.engine.incidents.resolve(inc.id)
    assert inc.next_update() is None


async def test_mitigation_audit_rows_land_on_the_timeline_and_in_the_drafts(watch_factory):
    w, inc = await stalled(watch_factory)
    w.engine.hub.publish(MitigationAudited(w.clock.now(), USER, "demo", "pulse", "conversion.test_event", None, 1,
                                           "confirmed", "POST /api/conversion/events", "202 accepted"))
    assert inc.timeline[-1].kind == "action" and "conversion.test_event" in inc.timeline[-1].text
    draft = comms.render("escalation", inc, w.clock.now())
    assert "Actions Taken: " in draft and "conversion.test_event: confirmed (202 accepted)" in draft
    # read-only: an attempt refused before the network stays on the timeline, not in what the draft says was done
    w.engine.hub.publish(MitigationAudited(w.clock.now(), USER, "demo", "pulse", "conversion.disable_all", None, 2,
                                           "refused", "PUT /api/conversion/config", "read-only (demo): nothing sent"))
    assert "conversion.disable_all: refused" in inc.timeline[-1].text
    draft = comms.render("update", inc, w.clock.now())
    assert "conversion.test_event: confirmed" in draft and "disable_all" not in draft
    pb = playbook_for(inc.runbook)
    step = next(s for s in pb.diagnosis if any(lv.action for lv in s.live))
    results = {a: r for (svc, a), r in w.engine.incidents.action_results.items() if svc == "pulse"}
    assert live_value(step.live[0], {}, lambda e: [], "pulse", results) == "confirmed (202 accepted)"


# --- failed path-tracker deliveries -------------------------------------------------------------

def _alerts(items: list[dict]) -> dict:
    return {"page": 1, "pageSize": 20, "total": len(items), "items": items}


async def test_failed_delivery_opens_an_incident_and_a_retry_recovers_it(watch_factory):
    w = await watch_factory("normal", tick=5.0)
    now = w.clock.now()
    failed = {"id": "pta_000042", "createdAt": "2026-11-18T11:06:30Z", "kind": "fallback", "status": "failed",
              "errorText": "webhook answered HTTP 502", "attempts": 3}
    w.engine.ingest(Observation(ts=now, source="path-tracker", endpoint="alerts", payload=_alerts([failed])))
    w.engine.evaluate(now)
    inc = next(i for i in w.engine.state.incidents if i.source == "path_tracker")
    assert inc.key == "AlertDeliveryFailed/path-tracker{id=pta_000042}" and inc.severity == "P3"
    assert "webhook answered HTTP 502" in inc.summary and inc.runbook.endswith("#Response playbook")
    assert "path_tracker.retry_failed" in playbook_for(inc.runbook).mitigations
    w.engine.ingest(Observation(ts=now + 1, source="path-tracker", endpoint="alerts", payload=_alerts([])))
    w.engine.evaluate(now + 1)
    assert inc.recovered_at == now + 1 and inc.is_open


# --- persistence and the headless list -----------------------------------------------------------

async def test_restart_keeps_incidents_and_transitions(watch_factory, tmp_path):
    w, inc = await stalled(watch_factory)
    await w.engine.incidents.acknowledge(inc.id, comment="looking")
    await w.engine.stop()  # flushes the store
    again = Engine(w.engine.cfg, w.clock, scenario="conversion-stall", persist_incidents=True)
    await again.start()
    try:
        back = again.incidents.incidents[inc.id]
        assert back.state == "acknowledged" and back.key == inc.key
        assert [(e.kind, e.state, e.who, e.text) for e in back.timeline] == \
               [(e.kind, e.state, e.who, e.text) for e in inc.timeline]
        # the restarted console keeps numbering after the stored incidents
        assert again.incidents.snapshot()["seq"] >= max(int(i.split("-")[1]) for i in w.engine.incidents.incidents)
    finally:
        await again.stop()
    out = subprocess.run([sys.executable, "-m", "console.cli", "incidents", "--json"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    listed = {d["id"]: d for d in json.loads(out.stdout)}
    assert listed[inc.id]["state"] == "acknowledged" and listed[inc.id]["transitions"][1]["who"] == USER
    table = subprocess.run([sys.executable, "-m", "console.cli", "incidents", "--open"], capture_output=True,
                           text=True, timeout=60).stdout
    assert inc.id in table and "acknowledged" in table and "ConversionPipelineStall on pulse" in table


async def test_a_second_console_on_the_same_data_dir_keeps_incidents_in_memory(watch_factory):
    w = await watch_factory("normal")
    other = Engine(w.engine.cfg, w.clock)
    await other.start()
    try:
        assert other.incidents.store is None and "another console" in other.incidents.persist_error
    finally:
        await other.stop()


# --- playbooks as data ---------------------------------------------------------------------------

def test_every_shipped_rule_maps_to_a_playbook_naming_its_actions():
    known_actions = {a.id for a in builtin_actions()}
    for rule in shipped():
        pb = PLAYBOOKS.get(rule["runbook"])
        assert pb is not None, f"{rule['name']}: no playbook for {rule['runbook']!r}"
        assert set(rule.get("actions", [])) <= set(pb.mitigations), rule["name"]
    for key, pb in PLAYBOOKS.items():
        assert pb.symptoms and pb.resolution and pb.impact, key
        assert set(pb.mitigations) <= known_actions, (key, set(pb.mitigations) - known_actions)
        for step in pb.diagnosis:
            for lv in step.live:
                assert sum(bool(x) for x in (lv.figure, lv.expr, lv.action)) == 1, (key, lv)
                if lv.expr:
                    promql.check(lv.expr.replace("$job", "j"))
                if lv.action:
                    assert lv.action in known_actions, (key, lv.action)
    assert playbook_for("nowhere.txt#Nothing").key == GENERAL


async def test_every_live_figure_a_playbook_names_exists_on_its_service(watch_factory):
    w = await watch_factory("normal", tick=5.0)
    state = await w.run_for(120)
    kinds = {s.kind: s for s in state.services.values()}
    missing = []
    for rule in shipped():
        svc = kinds[rule["service"]]
        for step in PLAYBOOKS[rule["runbook"]].diagnosis:
            missing += [(rule["runbook"], lv.figure) for lv in step.live if lv.figure and lv.figure not in svc.figures]
    assert missing == []


async def test_pipeline_stall_steps_show_their_live_values(watch_factory):
    w, inc = await stalled(watch_factory)
    figures = w.engine.state.services["pulse"].figures
    pb = playbook_for(inc.runbook)
    shown = {lv.label: live_value(lv, figures, lambda e: w.engine.query(e, w.clock.now()), "pulse", {})
             for s in pb.diagnosis for lv in s.live}
    assert shown["status reported"] == "stale"
    assert shown["events rate 1m"] == "0.00/s"
    assert shown["last event age"].endswith(("m", "s")) and shown["last event age"] != "?"
    assert shown["test event"] == "not run (conversion.test_event)"


async def test_a_breakdown_step_shows_each_part_in_its_unit_the_worst_first(watch_factory):
    """High Error Rate's "which endpoints fail": per-endpoint 5xx rates read "/api/x 0.99/s", the largest first
    (they read "0.9933", unitless, in the order the store happened to hold them)."""
    w = await watch_factory("error-spike", tick=10.0, metrics_interval=10.0)
    await w.run_for(600)
    inc = incident(w.engine, "HighErrorRate")
    assert inc is not None, [i.key for i in w.engine.incidents.incidents.values()]
    step = next(s for s in playbook_for(inc.runbook).diagnosis if any(lv.label == "5xx by endpoint" for lv in s.live))
    lv = next(lv for lv in step.live if lv.label == "5xx by endpoint")
    now = w.clock.now()
    shown = live_value(lv, {}, lambda e: w.engine.query(e, now), "datapipe", {})
    rates = {labels["endpoint"]: v for labels, v in w.engine.query(lv.expr.replace("$job", "datapipe"), now)}
    assert len(rates) >= 2
    worst = sorted(rates, key=rates.get, reverse=True)
    assert shown == ", ".join(f"{e} {rates[e]:.2f}/s" for e in worst), shown


def test_threshold_split_for_the_plot():
    assert split_threshold('x{job="a"} >= 30 < 70') == ('x{job="a"}', 30.0)
    assert split_threshold("sum(a) / sum(b) > 0.05") == ("sum(a) / sum(b)", 0.05)
    # a set operation with a parenthesised first operand plots that operand (ServiceDown: readiness; the stall:
    # Pulse's stale status), not the whole expression
    assert split_threshold("(a == 0) or on (job) (up == 0)") == ("a", 0.0)
    assert split_threshold("(a == 0) + (b == 1)") == ("(a == 0) + (b == 1)", None)  # not a set operation


# --- communication drafts ------------------------------------------------------------------------

async def test_drafts_fill_the_runbook_templates_and_unknowns_render_as_unknown(watch_factory):
    w, inc = await stalled(watch_factory)
    now = w.clock.now()
    initial = comms.render("initial", inc, now)
    assert initial.splitlines()[0] == "[INCIDENT] ConversionPipelineStall on pulse - P2"
    assert "Status: INVESTIGATING" in initial and "ETA: <unknown>" in initial
    assert "Impact: Conversion events are not being recorded" in initial
    w.engine.incidents.resolve(inc.id, resolution="restarted Pulse")
    resolved = comms.render("resolved", inc, w.clock.now())
    assert "Resolution: restarted Pulse" in resolved and "Root Cause: <unknown>" in resolved
    assert "Follow-up: Postmortem scheduled for <unknown>" in resolved and "Duration: 0s" not in resolved
    esc = comms.render("escalation", inc, now)
    assert esc.splitlines()[0] == f"Requesting escalation for {inc.id}" and esc.endswith("@oncall-manager")


async def test_a_bare_incident_renders_every_template_without_crashing(watch_factory):
    w = await watch_factory("normal")
    spec = {"key": "X/y", "title": "", "severity": "P4", "source": "alertmanager", "service": "am",
            "runbook": "003_ae6503292f0c1228.txt#Nowhere", "rule": "X", "summary": "", "labels": {}}
    inc = w.engine.incidents.open_or_refire(spec, w.clock.now(), "test")
    inc.value = math.nan
    for name in comms.templates_for(inc):
        text = comms.render(name, inc, w.clock.now())
        assert "{" not in text and "None" not in text
    assert "path-tracker" in comms.templates_for(inc)
    assert "symptom: <unknown>" in comms.render("path-tracker", inc, w.clock.now())


async def test_the_runbooks_test_event_is_diagnosis_not_recovery(watch_factory):
    """Runbook 000, Pipeline Stall, step 2: a test event accepted while no organic event flows; the stall stays."""
    from conftest import executor_for
    from console.mitigations.catalog import load_actions

    w, inc = await stalled(watch_factory)
    ex = executor_for(w.engine, load_actions(w.engine.cfg))
    await ex.start()
    try:
        rec = await ex.execute(ex.plan("conversion.test_event"))
        assert rec.status == "confirmed"
        await w.run_for(60)
        assert w.engine.state.services["pulse"].figures["status_reported"] != "stale"  # Pulse saw an event...
        assert w.rule("ConversionPipelineStall").state == "firing"  # ...but the pipeline is still stalled
        assert inc.recovered_at is None and "cleared" not in comms.render("update", inc, w.clock.now())
        w.fleet.set_scenario("normal")  # organic events flow again: now it recovers
        await w.run_for(120)
        assert w.rule("ConversionPipelineStall") is None and inc.recovered_at is not None
    finally:
        await ex.stop()
