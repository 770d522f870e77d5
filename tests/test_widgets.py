"""Screens and widgets on a ConsoleState and a fake façade: what they show, and the commands they send."""

from __future__ import annotations

import re

import pytest

from console.facade import ok, refused
from screens.app import OpsApp
from screens.confirm import ConfirmScreen
from tests.conftest import screen_text
from tests.fake_facade import FakeFacade, state


async def test_panels_show_the_state_they_are_given():
    fake = FakeFacade(state(datapipe={"ready": True, "error_ratio_5m": 0.07, "error_ratio_threshold": 0.05,
                                      "cpu": 0.5, "cpu_threshold": 0.8}))
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        text = screen_text(app)
        assert "5xx ▲ 7.00%" in text and "cpu 50%" in text and "▲ 50%" not in text


async def test_a_rule_override_moves_the_panel_marker():
    """The marker is the rule's threshold: with HighErrorRate at > 0.10, a 7 % error ratio is not marked."""
    fake = FakeFacade(state(datapipe={"ready": True, "error_ratio_5m": 0.07, "error_ratio_threshold": 0.10}))
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        assert "5xx 7.00%" in screen_text(app) and "▲ 7.00%" not in screen_text(app)


async def test_a_mitigation_key_sends_prepare_then_send_after_y():
    view = {"title": "Pause intake", "action": "converge.intake_pause", "environment": "test", "production": False,
            "read_only": False, "service": "converge", "kind": "converge", "dangerous": True, "summary": "",
            "rows": [["sends", "POST http://converge/v1/intake/mode\n{\"mode\": \"pause\"}", "step:http"],
                     ["runbook", "002#When to change mode", ""]], "target": None, "runbook": "", "steps": []}
    fake = FakeFacade(answers={"mitigation.prepare": ok(plan_id=7, confirm=view), "mitigation.send": ok("sent")})
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.screen.query_one("#debt").focus()
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.focused.id == "cancel"  # Cancel is the default
        await pilot.press("y")
        await pilot.pause()
        assert [c["cmd"] for c in fake.sent] == ["mitigation.prepare", "mitigation.send"]
        assert fake.sent[0]["action"] == "converge.intake_pause" and fake.sent[1] == {"cmd": "mitigation.send",
                                                                                       "plan_id": 7}


async def test_a_refusal_is_one_line_and_no_dialog():
    fake = FakeFacade(mode="replay", answers={"mitigation.prepare": refused("Mitigations are disabled in replay")})
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.screen.query_one("#debt").focus()
        await pilot.press("p")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert [n.message for n in app._notifications] == ["Mitigations are disabled in replay"]
        footer = " ".join(str(b.description) for _, b in app.screen.query_one("#debt")._bindings)
        assert "⊘ Pause" in footer  # the key says before it is pressed


@pytest.mark.parametrize("size", [(160, 48), (80, 24)])
async def test_help_shows_keys_as_typed(size):
    app = OpsApp(FakeFacade(), autorun=False)
    async with app.run_test(size=size) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("end")  # the replay section (with [ ] + -) is below the fold
        await pilot.pause()
        text = screen_text(app)
        assert "question_mark" not in text and "left_square_bracket" not in text and "percent_sign" not in text
        assert re.search(r"│\s+\+\s+Next stage", text) and re.search(r"│\s+%\s+Set %", text)
        assert "[keys]" in text  # shown as typed, not swallowed as markup


async def test_q_asks_first_while_an_incident_is_unacknowledged():
    from console.incidents.model import Incident
    from screens.quit import QuitScreen

    st = state()
    st.scenario = "conversion-stall"
    st.incidents = [Incident("INC-1", "k", "ConversionPipelineStall", "P2", "rule", "pulse", "", "ConversionPipelineStall",
                             opened_at=st.ts)]
    fake = FakeFacade(st)
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        fake.publish()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen) and "INC-1" in screen_text(app)
        assert "gone once it quits" in screen_text(app)
        await pilot.press("escape")  # stays
        await pilot.pause()
        assert not isinstance(app.screen, QuitScreen) and app.is_running
        st.incidents[0].state = "acknowledged"
        await pilot.press("q")  # nothing unacknowledged: quits at once
        await pilot.pause()
        assert not app.is_running


async def test_conversion_types_are_unknown_not_missing_without_a_health_reading():
    """The conversion JSON refused (401) or not polled yet: `types ?`, never `▲ missing paywall_viewed`."""
    from console.metrics.panels import Figures
    from console.state import ServiceState

    figures = Figures().compute(ServiceState("pulse", "conversion", "Pulse"), "pulse", lambda expr: [], 0.0)
    assert figures["types"] is None and figures["missing_unexpected"] is None
    fake = FakeFacade(state(pulse=figures))
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        assert "types ?" in screen_text(app) and "missing" not in screen_text(app).replace("expected missing", "")


async def test_service_detail_reads_as_the_dashboard_does():
    """Figures in percent and clock time (not `True`, `1.79e+09`, fractions); plots in UTC clock time with a range
    around a flat line; the service's mitigation keys in the footer."""
    from tests.fake_facade import START

    st = state(**{"path-tracker": {"enabled": True, "stage_since": START - 600, "stage_since_known": True,
                                  "fallback_rate_local": 0.087}})
    fake = FakeFacade(st)
    fake.points = [(START - 120, 35.0), (START - 60, 35.0)]
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        app.open_detail("path-tracker")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert "enabled yes" in text and "fallback rate local 8.7%" in text
        assert "stage since 11:06:40 UTC (10m00s ago)".replace("11:06:40", _hms(START - 600)) in text
        assert "True" not in text and "e+09" not in text
        assert _hms(START - 120)[:5] in text and "-1.0" not in text  # clock time; not plotext's −1…1 for a flat line
        assert "Next stage" in text and "Rollback 0%" in text  # path tracker's mitigation keys in the footer


def _hms(ts):
    from console.clock import hms

    return hms(ts)


async def test_off_switches_come_first_and_are_all_visible():
    pipelines = [{"pipeline": f"p{n:02d}", "enabled": n % 7 != 3, "updated_at": None} for n in range(28)]
    fake = FakeFacade(state(storytailor={"switches": pipelines}))
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        text = screen_text(app)
        off = [f"p{n:02d}" for n in range(28) if n % 7 == 3]
        rows = [line for line in text.splitlines() if "storytailor" in line]
        assert all("○ OFF" in rows[i] and off[i] in rows[i] for i in range(len(off)))  # the four off rows on top
        assert "28 switches, 4 off" in text


async def test_incidents_are_told_apart_by_their_labels_and_use_the_width():
    from console.incidents.model import Incident

    st = state()
    st.incidents = [Incident(f"INC-{n}", f"k{n}", "ConversionEmissionGap", "P3", "rule", "pulse", "", "ConversionEmissionGap",
                             opened_at=st.ts, labels={"job": "pulse", "type": t}) for n, t in
                    ((1, "paywall_viewed"), (2, "upgrade_clicked"))]
    fake = FakeFacade(st)
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        text = screen_text(app)
        assert "paywall_viewed" in text and "upgrade_clicked" in text  # the label that tells them apart
        assert " upd" in text  # the stakeholder-update column stays
    async with OpsApp(FakeFacade(st), autorun=False).run_test(size=(120, 40)) as pilot:
        pilot.app.session.publish()
        await pilot.pause()
        text = screen_text(pilot.app)
        assert "paywall_viewed" in text and "upgrade_clicked" in text


async def test_the_dashboard_keeps_updating_under_a_dialog():
    from screens.help import HelpScreen

    st = state(datapipe={"ready": True, "error_ratio_5m": 0.01, "error_ratio_threshold": 0.05})
    fake = FakeFacade(st)
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        later = state(datapipe={"ready": True, "error_ratio_5m": 0.09, "error_ratio_threshold": 0.05})
        later.ts = st.ts + 3600
        fake.publish(later)
        await pilot.pause()
        text = screen_text(app)
        assert _hms(later.ts) in text  # the header's clock, above the dialog
        assert app.screen_stack[-2].query_one("#strip").lines[1].text.endswith("▲ 9.00%[/]")  # and under it


async def test_slash_filters_the_focused_table_and_says_so():
    pipelines = [{"pipeline": name, "enabled": True, "updated_at": None} for name in
                 ("daily-digest", "weekly-insights", "crisis-alert", "story-scoring")]
    fake = FakeFacade(state(storytailor={"switches": pipelines}))
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        app.screen.query_one("#switch-table").focus()
        await pilot.press("slash", *"crisis", "enter")
        fake.publish()  # the next state: the panel's subtitle says it is filtered
        await pilot.pause()
        text = screen_text(app)
        assert "crisis-alert" in text and "daily-digest" not in text and "/crisis · 4 switches" in text
        await pilot.press("slash", *["backspace"] * 6, *"[/]", "enter")  # typed text is never markup
        fake.publish()
        await pilot.pause()
        assert "/[/] · 4 switches" in screen_text(app)
        await pilot.press("slash", *["backspace"] * 3, "enter")  # an empty filter shows every row again
        await pilot.pause()
        assert "daily-digest" in screen_text(app)


async def test_a_service_just_started_is_warming_up_not_missing_types():
    """The normal scenario's first minutes: Pulse has not seen every frontend type *yet* — neutral, not a red gap."""
    from console.clock import utc_iso
    from console.metrics.panels import Figures
    from console.state import EndpointState, ServiceState
    from tests.fake_facade import START

    svc = ServiceState("pulse", "conversion", "Pulse")
    svc.endpoints["conversion_health"] = EndpointState("conversion_health", data={
        "status": "degraded", "started_at": utc_iso(START - 20), "events_by_type": {"paywall_viewed": 3}})
    figures = Figures().compute(svc, "pulse", lambda expr: [], START)
    assert figures["warming_up"] is True and figures["missing_unexpected"] == ["upgrade_clicked"]
    fake = FakeFacade(state(pulse=figures))
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        fake.publish()
        await pilot.pause()
        text = screen_text(app)
        assert "waiting for upgrade_clicked" in text and "▲ missing" not in text and "(expected)" in text
    later = Figures().compute(svc, "pulse", lambda expr: [], START + 600)  # ten minutes on: a real gap
    assert later["warming_up"] is False
