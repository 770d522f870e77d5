"""Hostile services: every fault kind is one service's error and heals; service text is inert; no echoed secret is kept."""

from __future__ import annotations

import asyncio
import base64
import json
import re

import httpx
import pytest

from console.clock import VirtualClock
from console.demo import Demo
from console.engine import Engine
from console.mitigations.audit import AuditLog, audit_path
from console.mitigations.catalog import load_actions
from console.events import StatePublished
from console.paths import data_dir
from console.recording.writer import open_recorder
from console.safe_text import Scrubber, clean, markup_escape
from console.chaos import everything_written, find_secrets, run_chaos
from console.sim.faults import HOSTILE, KINDS
from console.sources.transport import config_secrets
from tests.conftest import START, Fleetwatch, executor_for



NAMES = {"conversion": "pulse", "pipelines": "storytailor", "converge": "converge", "path_tracker": "path-tracker",
         "data_pipeline": "datapipe"}
DEADLINE = 0.5


@pytest.fixture
async def hostile():
    """The simulated fleet with a short request deadline, so slow faults cost half a second of real time."""
    made = []

    async def make(**top) -> Fleetwatch:
        clock = VirtualClock(START)
        demo = Demo(clock, scenario="normal", seed=1)
        cfg = await demo.start(tick=5.0, **top)
        services = [s.model_copy(update={"timeout": DEADLINE, "metrics_interval": 5.0}) for s in cfg.services]
        engine = Engine(cfg.model_copy(update={"services": services}), clock, scenario="normal", persist_incidents=True)
        await engine.start()
        w = Fleetwatch(clock, demo, engine)
        made.append(w)
        await w.run_for(10)
        return w

    yield make
    for w in made:
        await w.engine.stop()
        await w.demo.stop()


# What converge's panel says while the fault is on (converge has every kind of field: numbers, enums, names).
CONVERGE_SAYS = {
    "nan": "debt_score is NaN, expected a number",
    "infinity": "debt_score is Infinity, expected a number",
    "huge": "debt_score is a 401-digit number (too large)",
    "wrong-type": "debt_score is '",
    "markup": "mode is '[@click=app.quit]Q[/] [bold red]x[/]",
    "echo-json": "(x-api-key: *** *",
    "echo-500": "HTTP 500: internal error: request had x-api-key: *** ***",
    "link-500": "HTTP 500: error: upstream said [link=x",
    "markup-500": "HTTP 500: [@click=app.quit]Q[/] [bold red]x[/]…[/] redlink [link=x",
    "unavailable": "HTTP 503",
    "garbage": "not JSON: body is not UTF-8 text",
    "empty": "not JSON: Expecting value",
    "drip": f"timeout after {DEADLINE:g}s",
    "hang": f"timeout after {DEADLINE:g}s",
    "duplicates": None,  # two flags alike are data, not an error (the widgets show both rows)
    "counter-reset": None,  # readable, but flagged: see below
}


def test_every_fault_kind_has_an_expectation():
    assert set(CONVERGE_SAYS) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_fault_is_that_services_error_and_heals_within_one_interval(hostile, kind):
    w = await hostile()
    secret = w.demo.credentials.converge_key
    w.fleet.faults.set("converge", kind)
    async with asyncio.timeout(10):  # a freeze fails here, however the fault behaves
        state = await w.run_for(35)
    converge = state.services["converge"]
    expected = CONVERGE_SAYS[kind]
    if kind == "counter-reset":  # rates would be wildly high: the panel says why they cannot be trusted
        assert converge.error is None and converge.warning.startswith("metrics: counter resets every scrape: converge_")
    elif expected is None:
        assert converge.error is None and converge.warning is None
    else:
        assert expected in (converge.error or ""), converge.error
        endpoint = converge.error.split(": ", 1)[0]
        assert not converge.error.startswith(f"{endpoint}: {endpoint}: "), converge.error  # named once
    for name in ("pulse", "storytailor", "path-tracker", "datapipe"):  # one service's fault is its own
        assert state.services[name].error is None, (name, state.services[name].error)
    doc = json.dumps(state.to_json(), allow_nan=False, default=str)  # strict JSON, whatever came in
    assert secret not in doc and "\x1b" not in doc
    assert state.ts == START + 45  # the clock went on: every tick finished
    w.fleet.faults.clear()
    state = await w.run_for(5)  # one normal poll interval
    assert state.services["converge"].error is None
    if kind == "counter-reset":  # the flag goes once the counters count up again for most of the window
        state = await w.run_for(50)
    assert state.services["converge"].warning is None
    assert state.services["converge"].data("debt").get("debt_score") is not None


async def test_a_drip_fed_body_costs_one_deadline_not_a_freeze(hostile):
    w = await hostile()
    w.fleet.faults.set("pipelines", "drip")
    loop = asyncio.get_running_loop()
    began = loop.time()
    state = await w.run_for(5)
    # one deadline for the slow source; before, one byte a second kept every panel waiting for minutes
    assert loop.time() - began < DEADLINE * 4
    assert state.services["storytailor"].error == f"switches: timeout after {DEADLINE:g}s"
    assert state.services["converge"].error is None and state.services["converge"].age(state.ts) == 0


async def test_a_fleet_echoing_its_credentials_leaves_no_trace_in_anything_written(hostile):
    w = await hostile()
    recorder = await open_recorder(w.engine)  # into <data_dir>/recordings, as the TUI does
    executor = executor_for(w.engine, load_actions(w.engine.cfg), AuditLog(audit_path(None)))
    await executor.start()
    secrets = config_secrets(w.engine.cfg)
    # the fleet really echoes them: a direct request sees the secret in the answer
    for kind in NAMES:
        w.fleet.faults.set(kind, "echo-json")
    key = w.demo.credentials.converge_key
    async with httpx.AsyncClient() as client:
        direct = await client.get(w.demo.urls["converge"] + "/v1/flags", headers={"x-api-key": key})
    assert key in direct.text
    state = await w.run_for(30)
    for kind in NAMES:
        w.fleet.faults.set(kind, "echo-500")
    await w.run_for(60)  # long enough for ServiceDown rules to fire and open incidents
    # a mitigation answered with the secret goes to Activity and the audit log
    rec = await executor.execute(executor.plan("converge.intake_throttle"))
    assert rec.status == "failed" and "***" in rec.answer and key not in rec.answer
    state = await w.run_for(10)
    assert state.incidents, "the echoing fleet should have opened incidents (their text is checked too)"
    await recorder.flush(seal_all=True)
    await recorder.stop()
    await executor.stop()
    written = everything_written(data_dir(None), state.to_json())
    assert any(p.endswith("(decoded)") for p in written) and any("audit" in p for p in written), list(written)
    assert find_secrets(written, secrets) == []
    # and the search would have found one: plant a cut base64 prefix of the basic-auth token
    token = base64.b64encode(f"admin:{w.demo.credentials.pulse_password}".encode()).decode()
    assert find_secrets({"planted": token[:14].encode()}, secrets) != []


async def test_a_failing_listener_is_shown_and_logged_and_the_engine_keeps_ticking(hostile):
    w = await hostile()
    password = w.demo.credentials.pulse_password
    ticks: list[float] = []

    def broken(state):
        ticks.append(state.ts)
        raise RuntimeError(f"listener broke holding {password}")

    seen: asyncio.Queue = asyncio.Queue()
    w.engine.hub.subscribe(StatePublished, lambda ev: broken(ev.state))
    w.engine.hub.subscribe(StatePublished, lambda ev: seen.put_nowait(ev.state.ts))  # the UI's, after it
    run = asyncio.create_task(w.engine.run())
    try:
        for _ in range(3):
            await asyncio.wait_for(seen.get(), 10)  # a tick finished and was published
            w.clock.advance(5.0)  # wakes the engine's sleep on the virtual clock
        await asyncio.wait_for(seen.get(), 10)
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
    assert len(ticks) == 4 and ticks[-1] - ticks[0] == 15.0  # it kept ticking, on time
    state = w.engine.state
    assert state.engine_error.startswith("listener: RuntimeError: listener broke holding ***")
    log = (data_dir(None) / "opsconsole.log").read_text()
    assert "RuntimeError: listener broke holding ***" in log and "Traceback" in log
    assert password not in log


async def test_a_background_failure_reaches_the_live_header_even_while_rewound(tmp_path):
    """A writer that died is the live console's to say. A rewind's engine, stepping over the recording in the
    meantime, took it from the shared list and the live header never showed it."""
    from console import tasks
    from console.session import Session

    session = Session(clock=VirtualClock(START), scenario="normal", seed=1, record=str(tmp_path / "live.opsrec"))
    await session.start()
    try:
        for _ in range(120):
            session.clock.advance(1.0)
            await session.engine.tick()

        async def dies() -> None:
            raise OSError("No space left on device")

        failing = tasks.supervise(asyncio.create_task(dies()), "incident store")
        await asyncio.wait([failing])
        res = await session.request({"cmd": "rewind", "goto": "-1m"})
        assert res["ok"], res
        session.clock.advance(1.0)
        await session.engine.tick()
        assert session.engine.state.engine_error == "incident store: OSError: No space left on device"
    finally:
        await session.stop()


# --- the boundary itself ----------------------------------------------------------------------

def test_clean_strips_terminal_escapes_whole_and_masks_before_cutting():
    scrub = Scrubber(["s3cr3t-value-123", "admin:pw-9876543"])
    basic = base64.b64encode(b"admin:pw-9876543").decode()
    assert clean("\x1b[2Jwiped \x1b]0;title\x07\x1b]8;;http://x\x07link\x1b]8;;\x07 \x9b31m!", scrub) == "wiped link !"
    assert clean(f"Authorization: Basic {basic} tail", scrub, 30) == "Authorization: *** tail"
    assert clean("key s3cr3t-value-123 and more text after it", scrub, 12) == "key *** and…"
    assert clean('{"x-api-key": "anything-at-all"}', scrub) == '{"x-api-key": "***"}'
    assert clean("Bearer abcdefghijklmnop", scrub) == "Bearer ***"


def test_markup_escape_keeps_cut_tags_and_trailing_backslashes_inert():
    from textual.content import Content

    for text in (HOSTILE, "[link=x", "ends with \\", "[bold red]x[/]…[/]", "[@click=app.quit]X[/]"):
        shown = Content.from_markup(f"[b]{markup_escape(clean(text))}[/] after").plain
        assert shown.startswith(clean(text).rstrip("\\")) and shown.endswith(" after")


# --- the chaos run (short: bench/chaos.py runs the long one) ----------------------------------

async def test_chaos_random_faults_no_crash_no_freeze_fast_recovery_no_secret():
    result = await run_chaos(minutes=5, seed=3)
    assert result["crashes"] == 0 and result["freezes"] == 0, result
    assert result["unrecovered"] == [] and result["recoveries"] >= 3, result
    assert result["recovery_max_s"] <= result["poll_interval_s"], result
    assert result["secrets_found"] == 0 and result["snapshot_json_strict"], result


# --- what the terminal shows ------------------------------------------------------------------

_SGR = re.compile(r"\x1b\[[0-9;:]*m")  # colours and attributes: the only escapes a frame should hold


def terminal_frame(app) -> tuple[str, list]:
    """The screen as the bytes a terminal receives (rendered with the app's console), and every segment."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.render(app.console) for strip in strips), [seg for strip in strips for seg in strip]


def assert_inert(app) -> None:
    ansi, segments = terminal_frame(app)
    rest = _SGR.sub("", ansi)
    assert "\x1b" not in rest and "\x07" not in rest and "\x9b" not in rest and "\x9d" not in rest, \
        repr(rest[rest.find("\x1b") - 20:][:60])
    for seg in segments:
        assert seg.text.isprintable(), repr(seg.text)
        style = seg.style
        if style is None:
            continue
        assert not style.link, (seg.text, style.link)  # no OSC 8 hyperlink from a service's text
        assert "app.quit" not in str((style.meta or {}).get("@click", "")), seg.text


async def test_hostile_text_in_every_field_reaches_the_screen_as_text():
    from screens.app import OpsApp
    from console.session import Session
    from tests.conftest import advance_app, screen_text

    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await advance_app(app, pilot, 10, step=5.0)
        faults = app.session.demo.fleet.faults
        for kind in NAMES:
            faults.set(kind, "markup")  # every string of every endpoint: names, errors, texts, labels
        await advance_app(app, pilot, 30, step=5.0)
        text = screen_text(app)
        assert "storytailor  [@click=app.quit]Q[/] [bold red]" in text  # a switch's name (cut to its column with …)
        assert "mode is '[@click=app.quit]Q[/] [bold red]x[/]" in text  # converge's error quotes it
        assert "pwned" not in text and "evil.test" not in text  # the title and the link went with their escapes
        assert_inert(app)
        for fault in ("duplicates", "link-500", "markup-500"):
            for kind in NAMES:
                faults.set(kind, fault)
            await advance_app(app, pilot, 15, step=5.0)
            assert app.is_running and app.return_code is None, fault
            assert_inert(app)
        assert "✖ error: ready: HTTP 500: [@click=app.quit]Q[/] [bold red]x[/]…[/] redlink [link=x" in screen_text(app)
        assert "retrying in 5s" in screen_text(app)  # when the next try is, rather than a stale error alone
        # the detail screen of a hostile service (its endpoints and figures) renders the same way
        app.screen.query_one("#debt").focus()
        await pilot.press("enter")
        await advance_app(app, pilot, 5, step=5.0)
        assert "HTTP 500: [@click=app.quit]Q[/]" in screen_text(app)
        assert_inert(app)
        await pilot.press("escape")
        faults.clear()
        await advance_app(app, pilot, 5, step=5.0)
        assert "✖" not in screen_text(app)  # every panel healed within one poll interval
        assert app.is_running


async def test_an_engine_failure_is_in_the_header():
    from screens.app import OpsApp
    from console.session import Session
    from tests.conftest import advance_app, screen_text

    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await advance_app(app, pilot, 5, step=5.0)

        def broken(state):
            raise KeyError("debt_band")

        app.session.engine.hub.subscribe(StatePublished, lambda ev: broken(ev.state))
        await advance_app(app, pilot, 5, step=5.0)
        from console.clock import hms

        assert f"✖ engine listener: KeyError: 'debt_band' at {hms(app.session.engine.state.ts)}" in screen_text(app)
        assert app.is_running


def test_snapshot_json_is_strict_with_a_reason_for_each_null():
    from console.state import ConsoleState, ServiceState

    state = ConsoleState(ts=1.0, environment="t", read_only=False, mode="live")
    state.services["c"] = ServiceState("c", "converge", "C", figures={"debt": float("nan"), "rate": float("inf"), "ok": 2.0})
    doc = json.loads(json.dumps(state.to_json(), allow_nan=False))
    assert doc["services"]["c"]["figures"] == {"debt": None, "rate": None, "ok": 2.0}
    assert doc["non_finite"] == {"services.c.figures.debt": "NaN", "services.c.figures.rate": "+Inf"}


async def test_an_unset_secret_variable_is_one_warning_and_only_its_service_fails(hostile, monkeypatch, caplog):
    w = await hostile()
    monkeypatch.delenv("OPSCONSOLE_DEMO_CONVERGE_KEY")
    engine = Engine(w.engine.cfg, w.clock, scenario="normal", persist_incidents=False)
    with caplog.at_level("WARNING"):
        await engine.start()
    try:
        warned = [r.getMessage() for r in caplog.records if "OPSCONSOLE_DEMO_CONVERGE_KEY" in r.getMessage()]
        assert warned == ["environment variable OPSCONSOLE_DEMO_CONVERGE_KEY is not set: requests to converge "
                          "will fail until it is"]
        state = await engine.tick()
        assert state.services["converge"].error.endswith("auth: environment variable OPSCONSOLE_DEMO_CONVERGE_KEY is not set")
        assert all(state.services[n].error is None for n in ("pulse", "storytailor", "path-tracker", "datapipe"))
    finally:
        await engine.stop()


async def test_on_the_wall_clock_a_hanging_service_holds_no_tick():
    """A tick waits half a tick for its polls; a service still hanging is left to its deadline and answers (with
    its timeout) in a later tick, while every other panel is fresh at every tick."""
    from console.clock import WallClock

    clock = WallClock()
    demo = Demo(clock, scenario="normal", seed=1)
    cfg = await demo.start(tick=0.5)
    services = [s.model_copy(update={"timeout": 1.5}) for s in cfg.services]
    engine = Engine(cfg.model_copy(update={"services": services}), clock, scenario="normal")
    await engine.start()
    try:
        await engine.tick()
        demo.fleet.faults.set("converge", "hang")
        engine.expedite("converge")  # poll it now
        engine.expedite("pulse")
        state = await engine.tick()
        pulse = state.services["pulse"].endpoints["conversion_health"]
        assert pulse.last_poll == pulse.last_ok and state.ts - pulse.last_poll < 0.5  # polled in this very tick
        assert state.services["converge"].error is None  # still waiting: no answer yet, and no tick held for it
        for _ in range(8):  # 8 ticks of at most half a tick each: past converge's 1.5 s deadline x 3
            engine.expedite("pulse")
            state = await engine.tick()
            pulse = state.services["pulse"].endpoints["conversion_health"]
            assert state.ts - pulse.last_poll < 0.5  # every tick, the others are fresh
            if state.services["converge"].error:
                break
        assert "timeout after" in state.services["converge"].error
    finally:
        await engine.stop()
        await demo.stop()


async def test_a_crash_report_printed_on_exit_holds_no_secret(capfd):
    """If the TUI itself crashes, Textual prints the traceback (with locals) on exit: through the scrubber."""
    from console.session import Session
    from screens.app import OpsApp

    app = OpsApp(Session(clock=VirtualClock(START), scenario="normal", seed=1), autorun=False)
    async with app.run_test(size=(120, 40)):
        password = app.session.demo.credentials.pulse_password
        app.error_console.print(f"Traceback … password = {password!r} in the locals")
    app.error_console.file.flush()
    err = capfd.readouterr().err
    assert "in the locals" in err and password not in err and "***" in err
