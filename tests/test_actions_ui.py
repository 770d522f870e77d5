"""Pilot tests of the mitigations: key → confirm → request seen by the simulator → state changed → Activity."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import json

import pytest

from console.mitigations.audit import audit_path, read_rows
from console.cli import main as cli_main
from console.clock import VirtualClock
from console.config.schema import Environment
from console.session import Session
from screens.app import OpsApp
from screens.confirm import ConfirmScreen, plan_table
from screens.dashboard import Dashboard
from screens.help import HelpScreen, key_tables
from screens.pick import PickScreen
from tests.conftest import START
from tests.test_ui_dashboard import advance, screen_text


def make_app(scenario: str = "normal", read_only: bool = False) -> OpsApp:
    return OpsApp(Session(clock=VirtualClock(START), scenario=scenario, seed=1, read_only=read_only), autorun=False)


def fleet(app: OpsApp):
    return app.session.demo.fleet


def data(app: OpsApp, service: str, endpoint: str) -> dict:
    return app.session.engine.state.services[service].data(endpoint)


def secrets(app: OpsApp) -> list[str]:
    return list(app.session.demo.credentials.env().values())


async def press_action(app: OpsApp, pilot, panel: str, key: str, pick: int | None = None) -> str:
    """Focus a panel, press the action key, pick the n-th item if asked; returns the confirm dialog's text."""
    app.screen.query_one(f"#{panel}").focus()
    await pilot.press(key)
    await pilot.pause()
    if pick is not None:
        assert isinstance(app.screen, PickScreen), screen_text(app)
        await pilot.press(*(["down"] * pick), "enter")
        await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen), screen_text(app)
    return screen_text(app)


async def confirm(app: OpsApp, pilot, seconds: float = 1) -> None:
    await pilot.press("y")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await advance(app, pilot, seconds)


def activity(app: OpsApp) -> str:
    return "\n".join(ln for ln in screen_text(app).splitlines() if "│ " in ln)


def _switch(app: OpsApp, pipeline: str) -> bool:
    return next(s["enabled"] for s in data(app, "storytailor", "switches")["switches"] if s["pipeline"] == pipeline)


def _rollout(app: OpsApp) -> dict:
    return data(app, "path-tracker", "ops")["rollout"]


LISTS = {"allowlist": ["qa-alice", "qa-bob"], "denylist": ["u-1093"]}  # the simulator's: every change keeps them
# Every built-in action, one app per service (each step builds on the state the previous one left):
# (action, panel, key, pick index, mutation path (None: not a mutation), state check, status shown)
SEQUENCES = {
    "conversion": [
        ("conversion.disable_all", "conversion", "d", None, "/api/conversion/config",
         lambda a: data(a, "pulse", "config") == {"enabled": False, "disabled_surfaces": []}, "confirmed"),
        ("conversion.disable_surface", "conversion", "s", 0, "/api/conversion/config",
         lambda a: len(data(a, "pulse", "config")["disabled_surfaces"]) == 1, "confirmed"),
        ("conversion.enable", "conversion", "e", None, "/api/conversion/config",
         lambda a: data(a, "pulse", "config") == {"enabled": True, "disabled_surfaces": []}, "confirmed"),
        ("conversion.test_event", "conversion", "t", None, None, lambda a: fleet(a).test_events == 1, "confirmed"),
    ],
    "pipelines": [
        ("pipelines.flip_switch", "switch-table", "k", 2, "/api/pipelines/switches/story-scoring",
         lambda a: _switch(a, "story-scoring") is False, "propagating"),
        ("pipelines.enable_switch", "switch-table", "e", 0, "/api/pipelines/switches/story-scoring",
         lambda a: _switch(a, "story-scoring") is True, "propagating"),
        ("pipelines.stop_all", "switch-table", "S", None, "/api/pipelines/switches/therapeutic-checkin",
         lambda a: not any(s["enabled"] for s in data(a, "storytailor", "switches")["switches"]), "propagating"),
    ],
    "converge": [
        ("converge.intake_throttle", "debt", "t", None, "/v1/intake/mode",
         lambda a: data(a, "converge", "intake")["mode"] == "throttle", "confirmed"),
        ("converge.intake_pause", "debt", "p", None, "/v1/intake/mode",
         lambda a: data(a, "converge", "intake")["mode"] == "pause", "confirmed"),
        ("converge.intake_auto", "debt", "a", None, "/v1/intake/mode",
         lambda a: data(a, "converge", "intake")["mode"] == "auto", "confirmed"),
        ("converge.intake_open", "debt", "o", None, "/v1/intake/mode",
         lambda a: data(a, "converge", "intake")["mode"] == "open", "confirmed"),
        ("converge.toggle_flag", "debt", "f", 0, "/v1/flags/intent_links",
         lambda a: data(a, "converge", "flags")["flags"][0]["enabled"] is False, "confirmed"),
    ],
    "path_tracker": [
        ("path_tracker.set_percent", "rollout", "percent_sign", 2, "/api/admin/path-tracker/rollout",
         lambda a: _rollout(a) == {"percent": 15, **LISTS}, "confirmed"),
        ("path_tracker.advance", "rollout", "plus", None, "/api/admin/path-tracker/rollout",
         lambda a: _rollout(a)["percent"] == 35, "confirmed"),
        ("path_tracker.rollout_previous", "rollout", "minus", None, "/api/admin/path-tracker/rollout",
         lambda a: _rollout(a)["percent"] == 15, "confirmed"),
        ("path_tracker.rollback", "rollout", "0", None, "/api/admin/path-tracker/rollout",
         lambda a: _rollout(a) == {"percent": 0, **LISTS}, "confirmed"),
        ("path_tracker.retry_failed", "rollout", "r", None, "/api/admin/path-tracker/alerts/retry-failed",
         lambda a: data(a, "path-tracker", "ops")["recentFailedAlerts1h"] == 0, "confirmed"),
    ],
    "data_pipeline": [
        ("data_pipeline.retry_execution", "strip", "r", 0, "/api/v1/pipelines/{pipeline_id}/retry",
         lambda a: len(data(a, "datapipe", "failed")["executions"]) < 3, "confirmed"),
    ],
}


def test_every_built_in_action_with_a_key_is_exercised():
    from console.mitigations.catalog import builtin_actions

    keyed = {a.id for a in builtin_actions() if a.key and not a.hidden}
    assert keyed == {step[0] for steps in SEQUENCES.values() for step in steps}


@pytest.mark.parametrize("kind", list(SEQUENCES))
async def test_each_built_in_action_key_confirm_send_verify(kind):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        for n, (action, panel, key, pick, path, changed, status) in enumerate(SEQUENCES[kind]):
            sent_before = len(fleet(app).mutations)
            dialog = await press_action(app, pilot, panel, key, pick)
            plan = app.screen.view
            assert plan["action"] == action
            assert plan["steps"][0]["url"] in dialog.replace("\n", "") and plan["runbook"] in dialog  # full URL, runbook
            assert plan["steps"][0]["method"] in dialog and not any(s in dialog for s in secrets(app))
            assert ":  =" not in dialog  # a proof without a field reads `config = {…}`
            assert len(fleet(app).mutations) == sent_before  # nothing before the confirm
            await confirm(app, pilot)
            if path:
                sent = fleet(app).mutations[-1]
                assert sent.method == plan["steps"][-1]["method"] and sent.status in (200, 202)
                assert sent.path == path.format(**plan["steps"][-1]["values"]) and sent.body == plan["steps"][-1]["body"]
            assert changed(app), action
            rec = app.session.engine.state.actions[0]
            assert rec.action == action and rec.status == status, rec.answer
            shown = {"confirmed": "✔ confirmed", "propagating": "◐ propagating"}[status]
            assert f"{rec.seq}  " in activity(app) and shown in activity(app)
            assert len(app.session.engine.state.actions) == n + 1


async def test_a_switch_flip_is_propagating_until_executions_confirm_it():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        await press_action(app, pilot, "switch-table", "k", 2)  # story-scoring: runs every 5 min
        assert "within the 5 min cache" in screen_text(app)
        await confirm(app, pilot)
        rec = app.session.engine.state.actions[0]
        assert rec.status == "propagating"
        await advance(app, pilot, 330, step=10)
        assert rec.status == "confirmed" and rec.proof.endswith("executions confirm it"), rec.proof
        assert "✔ confirmed" in activity(app)


async def test_x_toggles_the_selected_switch_row():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        from widgets.kill_switches import switch_rows

        app.screen.query_one("#switch-table").focus()
        row = [key for key, _ in switch_rows(app.session.state)].index("storytailor/daily-digest")
        await pilot.press(*["down"] * row, "x")  # the daily-digest row (what is off comes first)
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.view["target"] == "daily-digest"
        await confirm(app, pilot)
        assert _switch(app, "daily-digest") is False


async def test_cancel_sends_nothing():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        for dismiss in ("n", "escape", "enter"):  # Enter presses the focused button: Cancel, the default
            await press_action(app, pilot, "debt", "p")
            assert app.screen.focused.id == "cancel"
            await pilot.press(dismiss)
            await pilot.pause()
            assert isinstance(app.screen, Dashboard)
        await advance(app, pilot, 2)
        assert fleet(app).mutations == []
        assert [r.status for r in app.session.engine.state.actions] == ["cancelled"] * 3
        assert "– cancelled" in activity(app)


async def test_read_only_sends_nothing_and_the_keys_say_so():
    app = make_app(read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        app.screen.query_one("#debt").focus()
        await pilot.pause()
        text = screen_text(app)
        assert "READ-ONLY" in text and "p ⊘ Pause" in text and "⊘ READ-ONLY: action keys refuse" in text
        for panel, key in (("debt", "p"), ("conversion", "d"), ("rollout", "0"), ("switch-table", "S")):
            app.screen.query_one(f"#{panel}").focus()
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, Dashboard)  # no dialog: nothing could be sent
        await advance(app, pilot, 3)
        assert fleet(app).mutations == [] and fleet(app).test_events == 0
        assert [r.status for r in app.session.engine.state.actions] == ["refused"] * 4
        assert "⊘ refused" in activity(app)


async def test_a_double_press_sends_one_request():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        await press_action(app, pilot, "debt", "p")
        await pilot.press("y", "p")  # the second press while the first is still being verified
        await pilot.pause()
        assert isinstance(app.screen, Dashboard)
        await advance(app, pilot, 2)
        assert len(fleet(app).mutations) == 1
        assert [r.status for r in app.session.engine.state.actions] == ["refused", "confirmed"]
        assert "already in flight" in app.session.engine.state.actions[0].answer


@pytest.mark.parametrize("panel, key, pick, read", [
    ("debt", "p", None, lambda a: data(a, "converge", "intake")["mode"]),
    ("rollout", "plus", None, lambda a: data(a, "path-tracker", "ops")["rollout"]),
    ("debt", "f", 1, lambda a: data(a, "converge", "flags")["flags"][1]["enabled"]),
    ("conversion", "s", 0, lambda a: data(a, "pulse", "config")),
], ids=["intake", "rollout", "flag", "surface"])
async def test_u_sends_the_inverse_and_restores_the_previous_state(panel, key, pick, read):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        before = read(app)
        await press_action(app, pilot, panel, key, pick)
        await confirm(app, pilot)
        assert read(app) != before
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "Undo #1" in screen_text(app)
        await confirm(app, pilot)
        assert read(app) == before
        rec = app.session.engine.state.actions[0]
        assert rec.inverse_of == 1 and rec.status == "confirmed"
        await pilot.press("u")  # nothing left to undo
        await pilot.pause()
        assert isinstance(app.screen, Dashboard) and len(fleet(app).mutations) == 2


async def test_undo_of_stop_all_restarts_only_what_it_stopped():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        fleet(app).models["pipelines"].flip("crisis-alert", False, app.session.engine.clock.now())
        await advance(app, pilot, 2)
        await press_action(app, pilot, "switch-table", "S")
        await confirm(app, pilot)
        assert len(fleet(app).mutations) == 7  # the seven that were on
        await pilot.press("u")
        await pilot.pause()
        await confirm(app, pilot)
        switches = {s["pipeline"]: s["enabled"] for s in data(app, "storytailor", "switches")["switches"]}
        assert [p for p, on in switches.items() if not on] == ["crisis-alert"]


async def test_refused_credentials_say_which_and_are_not_retried(monkeypatch):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        creds = app.session.demo.credentials
        monkeypatch.setenv("OPSCONSOLE_DEMO_CONVERGE_KEY", creds.converge_readonly_key)  # reads work, writes 403
        monkeypatch.setenv("OPSCONSOLE_DEMO_PULSE_PASSWORD", creds.pulse_viewer_password)  # admin + wrong password
        await advance(app, pilot, 2)
        await press_action(app, pilot, "debt", "p")
        await confirm(app, pilot)
        await press_action(app, pilot, "conversion", "d")
        await confirm(app, pilot, seconds=10)
        pulse, converge = app.session.engine.state.actions[:2]
        assert converge.status == "failed" and converge.code == 403
        assert "HTTP 403 forbidden: header x-api-key from $OPSCONSOLE_DEMO_CONVERGE_KEY was refused" in converge.answer
        assert pulse.status == "failed" and pulse.code == 401
        assert "basic auth as admin (password from $OPSCONSOLE_DEMO_PULSE_PASSWORD) was refused" in pulse.answer
        assert [(m.service, m.status) for m in fleet(app).mutations] == [("converge", 403), ("conversion", 401)]
        text = screen_text(app)
        assert "✖ failed" in text and not any(s in text for s in secrets(app))


async def test_the_audit_log_holds_every_attempt(monkeypatch, capsys):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        await press_action(app, pilot, "debt", "t")
        await confirm(app, pilot)  # confirmed
        await press_action(app, pilot, "debt", "p")
        await pilot.press("n")  # cancelled
        await press_action(app, pilot, "debt", "p")
        await pilot.press("y", "p")  # sent, then refused while in flight
        await advance(app, pilot, 2)
        monkeypatch.setenv("OPSCONSOLE_DEMO_CONVERGE_KEY", app.session.demo.credentials.converge_readonly_key)
        await press_action(app, pilot, "debt", "o")
        await confirm(app, pilot)  # failed: 403
        secret_values = secrets(app)
    rows = await read_rows(audit_path())
    results = [(r["action"], r["result"]) for r in rows]
    assert results == [("converge.intake_throttle", "sent"), ("converge.intake_throttle", "confirmed"),
                       ("converge.intake_pause", "cancelled"), ("converge.intake_pause", "sent"),
                       ("converge.intake_pause", "refused"), ("converge.intake_pause", "confirmed"),
                       ("converge.intake_open", "failed")]
    assert all(r["user"].count("@") == 1 and r["environment"] == "demo" and r["service"] == "converge" for r in rows)
    assert rows[0]["summary"].endswith('/v1/intake/mode {"mode": "throttle"}')
    assert "HTTP 403" in rows[-1]["detail"]
    assert not any(s in json.dumps(rows) for s in secret_values)
    assert await asyncio.to_thread(cli_main, ["audit", "--json"]) == 0  # its own event loop
    assert [r["result"] for r in json.loads(capsys.readouterr().out)] == [r for _, r in results]


async def test_palette_and_help_find_every_action():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        tables = key_tables(app.registry)[:-1]  # what the help screen shows (it scrolls: these are below the fold)
        cells = [t.title.plain for t in tables] + [c.plain for t in tables for col in t.columns for c in col._cells]
        assert "Mitigations · rollout panel" in cells and "Rollback 0%" in cells and any(
            c.startswith("Undo") for c in cells)
        await pilot.press("escape", "ctrl+p")
        await pilot.pause()
        await pilot.press(*"pause")
        for _ in range(250):  # the palette searches in the background: wait (at most 5 s) for its first hit
            hits = app.screen.query("CommandList")
            if hits and hits.first().option_count:
                break
            await pilot.pause(0.02)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.view["action"] == "converge.intake_pause"


async def test_a_production_environment_is_red_in_the_dialog():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        cfg = app.session.engine.cfg
        app.session.engine.cfg = app.session.executor.cfg = cfg.model_copy(
            update={"environment": "production", "environments": {"production": Environment(production=True)}})
        text = await press_action(app, pilot, "debt", "p")
        assert app.screen.has_class("-production") and " production " in text
        table = plan_table(app.screen.view)
        env = table.columns[1]._cells[0]
        assert env.plain == " production " and [str(sp.style) for sp in env.spans] == ["bold reverse red"]


async def test_an_attempt_refused_before_the_dialog_is_shown_and_audited():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        await pilot.press("u")  # nothing to undo yet
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert any(n.message == "nothing to undo" for n in app._notifications)
        rec = app.session.engine.state.actions[0]
        assert rec.status == "refused" and rec.answer == "nothing to undo" and "⊘ refused" in activity(app)
    rows = await read_rows(audit_path())
    assert [(r["action"], r["result"], r["detail"]) for r in rows] == [("undo", "refused", "nothing to undo")]


async def test_f12_writes_a_screenshot_into_the_data_dir_and_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home-without-downloads"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, pilot, 2)
        await pilot.press("f12")
        await app.workers.wait_for_complete()
        await pilot.pause()
        [note] = [n.message for n in app._notifications if n.message.startswith("Screenshot written to ")]
        path = Path(note.removeprefix("Screenshot written to "))
        assert path.parent == Path(os.environ["OPSCONSOLE_DATA_DIR"]) / "screenshots"
        assert path.read_text().startswith("<svg") and "Conversion&#160;health" in path.read_text()


async def test_undoing_a_kill_still_propagating_never_rewrites_it_as_failed():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        await press_action(app, pilot, "switch-table", "k", 2)  # story-scoring: runs every 5 min
        await confirm(app, pilot)
        kill = app.session.engine.state.actions[0]
        assert kill.status == "propagating"
        await pilot.press("u")
        await pilot.pause()
        await confirm(app, pilot)
        await advance(app, pilot, 60, step=5)  # well past the re-poll that reads it enabled again
        undo = app.session.engine.state.actions[0]
        assert undo.inverse_of == kill.seq and undo.status in ("confirmed", "propagating")
        assert kill.status == "propagating" and f"undone by #{undo.seq}" in kill.proof
    rows = await read_rows(audit_path())
    assert [(r["attempt"], r["result"]) for r in rows if r["attempt"] == kill.seq] == [
        (kill.seq, "sent"), (kill.seq, "propagating")]  # never a later "failed" for the kill


async def test_the_quoted_runbook_line_names_the_picked_item_and_the_real_target_never_a_password():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await advance(app, pilot, 2)
        text = await press_action(app, pilot, "switch-table", "k", 2)  # story-scoring
        assert "/pipelines/story-scoring/enabled" in text.replace("\n", "") and "daily-digest" not in text
        await pilot.press("n")
        await pilot.pause()
        text = (await press_action(app, pilot, "conversion", "d")).replace("\n", "")
        pulse_url = app.session.engine.cfg.service("pulse").url.rstrip("/")
        assert f"curl -s -u admin:*** -X PUT {pulse_url}/api/conversion/config" in " ".join(text.split())
        assert "admin:admin" not in text and "127.0.0.1:7655" not in text
