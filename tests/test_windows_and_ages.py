"""Figures that are not known yet say so (issue 16, items 5 and 6): the age of the last event from the counters when the
service does not report it, windows still filling, a rollout stage that began before the console was watching."""

from __future__ import annotations

import pytest

from console.metrics.panels import EXPRS, Figures
from console.state import EndpointState, ServiceState
from screens.app import OpsApp
from tests.conftest import screen_text
from tests.fake_facade import START, FakeFacade, state

pytestmark = pytest.mark.asyncio

TOTAL = EXPRS["conversion"]["events_total"].replace("$job", "pulse")


def _pulse(reported_age=None) -> ServiceState:
    svc = ServiceState("pulse", "conversion", "Pulse")
    svc.endpoints["conversion_health"] = EndpointState("conversion_health", last_ok=START, data={
        "status": "stale", "last_event_age_seconds": reported_age, "events_by_type": {"paywall_viewed": 3}})
    return svc


def _counter(values: dict[float, float]):
    """A query answering the events total as scraped at each instant (nothing else is known)."""
    def at(t: float):
        return lambda expr: [({}, values[t])] if expr == TOTAL else []
    return at


def _shown(figures: dict, size=(160, 48), **others) -> str:
    st = state(pulse=figures, **others)
    for svc in st.services.values():  # read once: the panels show figures, not "waiting for first poll"
        svc.endpoints["x"] = EndpointState("x", last_ok=st.ts)
    return st


async def _text(st, size=(160, 48)) -> str:
    fake = FakeFacade(st)
    app = OpsApp(fake, autorun=False)
    async with app.run_test(size=size) as pilot:
        fake.publish()
        await pilot.pause()
        return screen_text(app)


async def test_last_event_age_from_the_counters_when_the_service_reports_none():
    """The counter rose at +10 s and not since: 400 s later the last event is 6 minutes old — a stall, in red."""
    q = _counter({START: 100.0, START + 10: 104.0, START + 410: 104.0})
    figures = Figures()
    first = figures.compute(_pulse(), "pulse", q(START), START)
    assert first["last_event_age"] is None and first["last_event_age_why"] == "none in the <1m watched"
    figures.compute(_pulse(), "pulse", q(START + 10), START + 10)
    later = figures.compute(_pulse(), "pulse", q(START + 410), START + 410)
    assert later["last_event_age"] == 400 and later["last_event_age_source"] == "counters"
    text = await _text(_shown(later))
    assert "▲ last event 6m ago (counters)" in text

    # the service's own figure wins when it reports one
    own = figures.compute(_pulse(reported_age=12.5), "pulse", q(START + 410), START + 410)
    assert own["last_event_age"] == 12.5 and own["last_event_age_source"] == "service"
    assert "last event 10s ago ·" in await _text(_shown(own))


async def test_a_counter_reset_with_events_is_an_event_and_memory_survives_a_snapshot():
    q = _counter({START: 50.0, START + 30: 3.0, START + 90: 3.0})
    figures = Figures()
    figures.compute(_pulse(), "pulse", q(START), START)
    figures.compute(_pulse(), "pulse", q(START + 30), START + 30)  # restarted and counted 3 since
    again = Figures()
    again.restore(figures.snapshot())
    assert again.compute(_pulse(), "pulse", q(START + 90), START + 90)["last_event_age"] == 60


async def test_a_stall_from_the_start_says_why_the_last_event_age_is_unknown(watch_factory):
    """conversion-stall from the first second: the service reports null and the counters never rise. After 6 minutes
    the panel says none was seen in the 6 minutes watched (a bound a stall investigation can use), never a bare `?`."""
    w = await watch_factory("conversion-stall")
    st = await w.run_for(360)
    f = st.services["pulse"].figures
    assert f["last_event_age"] is None and f["last_event_age_why"] == "none in the 6m watched"
    assert f["status_computed"] == "stale" and "status_computed" not in f["filling"]  # 5 minutes held: known
    assert "last event ? (none in the 6m watched)" in await _text(st)


async def test_windows_still_filling_are_marked_and_then_are_not(watch_factory):
    """Right after start a 5-minute rate reads low: dimmed with … and the panel's subtitle says why; once the console
    holds 5 minutes of data the 5m figures are plain (the 1 h ones are still filling)."""
    w = await watch_factory("normal")
    st = await w.run_for(60)
    strip = st.services["datapipe"].figures
    assert set(strip["filling"]) >= {"req_rate", "error_ratio_5m", "p95_5m"} and 55 <= strip["window_data_seconds"] <= 65
    text = await _text(st)
    assert "req " in text and "/s…" in text and "… filling: 1m of 5m" in text
    counters_status = st.services["pulse"].figures
    assert "status_computed" in counters_status["filling"]
    st = await w.run_for(300)
    strip = st.services["datapipe"].figures
    assert "req_rate" not in strip["filling"] and "error_ratio_5m" not in strip["filling"]
    tracker = st.services["path-tracker"].figures
    assert "fallback_rate_local" in tracker["filling"] and "steps_rate_5m" not in tracker["filling"]
    text = await _text(st)
    data_pipeline = next(line for line in text.splitlines() if "5xx" in line)
    assert "…" not in data_pipeline and "… filling: 6m of 1h" in text


async def test_a_stage_that_held_when_the_console_started_is_a_lower_bound():
    """`at stage <1m` right after start was the console's uptime shown as fact: now `?`, then `≥2m`, with a legend;
    a stage change the console saw is a known time."""
    ops = {"enabled": True, "rollout": {"percent": 35, "allowlist": [], "denylist": []}}
    svc = ServiceState("path-tracker", "path_tracker", "Path tracker")
    svc.endpoints["ops"] = EndpointState("ops", data=ops, last_ok=START)
    figures = Figures()
    first = figures.compute(svc, "path-tracker", lambda e: [], START)
    assert first["stage_since"] == START and first["stage_since_known"] is False
    st = _shown({}, **{"path-tracker": first})
    assert "at stage ?" in await _text(st) and "at stage <1m" not in await _text(st)
    later = figures.compute(svc, "path-tracker", lambda e: [], START + 150)
    st = _shown({}, **{"path-tracker": later})
    st.ts = START + 150
    text = await _text(st)
    assert "at stage ≥2m" in text and "≥ held at start" in text
    ops["rollout"]["percent"] = 60
    changed = figures.compute(svc, "path-tracker", lambda e: [], START + 200)
    assert changed["stage_since"] == START + 200 and changed["stage_since_known"] is True
    st = _shown({}, **{"path-tracker": changed})
    st.ts = START + 330
    text = await _text(st)
    assert "at stage 2m" in text and "≥ held" not in text


def _switch_state():
    from console.clock import utc_iso

    flags = [{"name": n, "enabled": n != "code_ownership", "mode": "shadow", "source": "default"} for n in
             ("code_ownership", "semantic_conflict_detection_v2", "intent_links", "archaeology_enhanced")]
    pipes = [{"pipeline": p, "enabled": True, "updated_at": utc_iso(START - 12 * 86400)} for p in
             ("daily-digest", "therapeutic-checkin")]
    return _shown({}, converge={"flags": flags}, storytailor={"switches": pipes})


@pytest.mark.parametrize("size", [(160, 48), (120, 40), (80, 24)])
async def test_kill_switch_columns_fit_with_every_header_whole(size):
    """Nothing scrolls sideways, the `changed` header is whole and its values show, the state of every row shows;
    a name longer than its column ends in … (never cut silently)."""
    text = await _text(_switch_state(), size)
    lines = text.splitlines()
    header = next(line for line in lines if "switch" in line and "state" in line)
    assert "changed" in header and "detail" in header and "service" in header
    rows = {name: next(line for line in lines if name in line) for name in
            ("code_ownership", "semantic", "intent_links", "daily-digest", "therapeutic")}
    assert "○ OFF" in rows["code_ownership"] and all("● ON" in r for n, r in rows.items() if n != "code_ownership")
    assert "converge" in rows["intent_links"] and "storytailor" in rows["daily-digest"]
    assert "12d" in rows["daily-digest"]
    long = rows["semantic"]
    assert "semantic_conflict_detection_v2" in long or "…" in long


@pytest.mark.parametrize("size", [(160, 48), (120, 40)])
async def test_the_stakeholder_update_column_stays_at_120_columns(size):
    """At 120×40 the `upd` column went off the table's edge: now the severity sits under the id and the response
    target under the state, so the incident title keeps its room and the P2 countdown shows."""
    from console.incidents.model import Incident

    st = _shown({})
    st.incidents = [Incident("INC-7", "k7", "HighErrorRate", "P2", "rule", "datapipe", "", "HighErrorRate",
                             opened_at=st.ts - 120, labels={"job": "datapipe"})]
    text = await _text(st, size)
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if "INC-7" in line)
    assert "HighErrorRate" in lines[row] and "in 13m" in lines[row]  # the stakeholder-update countdown
    assert "P2" in lines[row] + lines[row + 1] and "ack 2/5m" in lines[row] + lines[row + 1]
    assert "upd" in text


@pytest.mark.parametrize("size", [(160, 48), (120, 40), (80, 24)])
async def test_a_message_takes_the_status_line_and_hides_no_panel(size):
    """Issue 16: "Recording to …" covered the kill switches for seconds and broke the path. A message now shows on the
    status line above the footer (a long one takes the strip's bottom border too), the newest one."""
    st = _shown({}, datapipe={"ready": True, "req_rate": 12.0},
                storytailor={"switches": [{"pipeline": "daily-digest", "enabled": False, "updated_at": None}]})
    fake = FakeFacade(st)
    app = OpsApp(fake, autorun=False)
    path = "/root/.local/share/opsconsole/recordings/2026-12-01T154633Z-demo.opsrec"
    async with app.run_test(size=size, notifications=True) as pilot:
        fake.publish()
        await pilot.pause()
        before = screen_text(app).splitlines()
        app.notify(f"Recording to {path}")
        app.notify("No incident selected", severity="warning")
        await pilot.pause(0.3)
        after = screen_text(app).splitlines()
        changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
        assert changed and min(changed) >= size[1] - 3  # the status line, and at most the border above it
        assert "No incident selected" in "\n".join(after)  # the newest
        assert "● req 12/s" in "\n".join(after) or "req 12/s" in after[size[1] - 4] + after[size[1] - 5]
        app.notify(f"Recording to {path}")
        await pilot.pause(0.3)
        assert path in "".join(line.strip(" ▌") for line in screen_text(app).splitlines()[-3:])  # whole, not broken


async def test_the_confirm_dialog_breaks_a_url_after_a_separator_at_80_columns():
    """At 80×24 the URL broke mid-word (`daily-diges` / `t`): it now breaks after a `/`, each word whole."""
    from console.facade import ok
    from screens.confirm import ConfirmScreen

    url = "http://127.0.0.1:36777/api/pipelines/switches/daily-digest"
    view = {"title": "Kill one Storytailor pipeline", "action": "pipelines.kill", "environment": "demo",
            "production": False, "read_only": False, "service": "storytailor", "kind": "pipelines", "dangerous": True,
            "summary": "", "rows": [["sends", f"PUT {url}\n{{\"enabled\": false}}", "step:http"],
                                    ["runbook", "001#How to Disable Pipeline", ""]],
            "target": "daily-digest", "runbook": "", "steps": []}
    for size in ((80, 24), (60, 24)):
        fake = FakeFacade(answers={"mitigation.prepare": ok(plan_id=1, confirm=view)})
        app = OpsApp(fake, autorun=False)
        async with app.run_test(size=size) as pilot:
            app.push_screen(ConfirmScreen(view))
            await pilot.pause()
            text = screen_text(app)
            rows = [line.strip(" █│▎▊").split("  ")[-1].strip() for line in text.splitlines()]
            start = next(i for i, r in enumerate(rows) if r.startswith("http://"))
            url_lines, shown = [], ""
            for r in rows[start:]:
                if not url.startswith(shown + r):
                    break
                url_lines.append(r)
                shown += r
            assert shown == url, (size, rows[start:start + 3])
            assert len(url_lines) > 1 and all(r.endswith("/") for r in url_lines[:-1]), url_lines  # after a `/`
            assert '{"enabled": false}' in text


@pytest.mark.parametrize("size, order", [
    ((80, 24), ["incident-table", "switch-table", "conversion", "debt", "rollout", "activity-table", "strip"]),
    ((160, 48), ["conversion", "debt", "rollout", "activity-table", "incident-table", "switch-table", "strip"])])
async def test_every_panel_is_reached_in_reading_order_and_shown(size, order):
    """Issue 16 item 17: at 80×24 four panels were off-screen and Tab did not follow the reading order. Tab now walks
    the panels as they read (stacked: top to bottom; wide: the left column, the right, the strip), each one scrolled
    into view when focused; Shift+Tab walks back; the palette (every key) stays in the footer; the strip's figures
    all show (two rows when narrow); `? Keys` is never pushed off the footer by a panel with many keys."""
    from console.clock import VirtualClock
    from console.session import Session
    from tests.conftest import advance_app

    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=size) as pilot:
        await advance_app(app, pilot, 10, step=5.0)
        dash = app.screen
        dash.query_one(f"#{order[-1]}").focus()
        seen = []
        for _ in order:
            await pilot.press("tab")
            await pilot.pause()
            seen.append(dash._focused_id())
            region = dash.query_one(f"#{seen[-1]}").region
            assert region.height >= 3 and region.bottom <= size[1] - 2, (seen[-1], region)  # on screen, above the footer
            footer = screen_text(app).splitlines()[-1]
            assert "^p palette" in footer
            assert "? Keys" in footer, (seen[-1], footer)  # the list of every key, whatever panel has the focus
        assert seen == order
        await pilot.press("shift+tab")
        assert dash._focused_id() == order[-2]
        strip = [line for line in screen_text(app).splitlines() if "5xx" in line or "failed exec" in line]
        text = " ".join(strip)
        for figure in ("ready", "5xx", "p95", "queue", "rate-limit", "cpu", "req ", "failed exec 3"):
            assert figure in text, figure


async def test_the_normal_scenario_starts_calm():
    """Issue 16 item 18: `normal` started with a yellow `◐ degraded` and a red "missing" for ~20 s. Pulse's degraded is
    what the runbook expects (six deferred types), so it is shown neutral, from the first second to the last."""
    from console.clock import VirtualClock
    from console.session import Session
    from tests.conftest import advance_app

    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(12):
            await advance_app(app, pilot, 5, step=1.0)
            panel = app.screen.query_one("#conversion")
            markup = [fig.text for fig in panel.lines]
            assert "◐ degraded" in markup[0] and "(expected)" in markup[0], markup[0]
            assert not any("$warning" in m or "$error" in m for m in markup), markup
            assert "missing" not in screen_text(app).replace("expected missing", "")


async def test_the_stall_playbook_says_why_the_age_is_unknown_and_marks_a_filling_window():
    from console.incidents.playbooks import Live, live_value

    age = Live("last event age", figure="last_event_age", unit="duration")
    rate = Live("events rate 5m", figure="rate_5m", unit="rate")
    unknown = {"last_event_age": None, "last_event_age_why": "none in the 6m watched", "rate_5m": 0.0, "filling": {}}
    assert live_value(age, unknown, lambda e: [], "pulse", {}) == "? (none in the 6m watched)"
    counted = {"last_event_age": 400.0, "last_event_age_source": "counters", "rate_5m": 0.02,
               "filling": {"rate_5m": 300}}
    assert live_value(age, counted, lambda e: [], "pulse", {}) == "6m40s (from counters)"
    assert live_value(rate, counted, lambda e: [], "pulse", {}) == "0.02/s (window filling: reads low)"


async def test_a_stall_is_not_shown_as_missing_types():
    """In a stall no type arrives: the panel says so once (the stall), not `▲ missing paywall_viewed, …` as if the
    frontend had stopped emitting two types (the runbook's Emission Gap is types at 0 *while events flow*)."""
    types = [{"type": t, "count": 0, "deferred": t not in ("paywall_viewed", "upgrade_clicked"), "seen": False}
             for t in ("paywall_viewed", "upgrade_clicked", "trial_started")]
    stall = {"status_reported": "stale", "status_computed": "stale", "types": types,
             "missing_unexpected": ["paywall_viewed", "upgrade_clicked"], "warming_up": False}
    text = await _text(_shown(stall))
    assert "none arriving (a stall" in text and "▲ missing" not in text
    gap = dict(stall, status_reported="degraded", status_computed="degraded",
               types=[dict(types[0], seen=True, count=9)] + types[1:], missing_unexpected=["upgrade_clicked"])
    assert "▲ missing upgrade_clicked" in await _text(_shown(gap))
