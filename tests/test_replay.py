"""Replay shows what live showed: a scenario recorded over real HTTP on the virtual clock, compared document by
document with what the live run published, forward and after seeks; headless --snapshot-at; bad files."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3

import pytest

from conftest import start_watch
from console.recording import format as recording
from console.recording import keyframes
from console.recording.memos import history as memo_history
from console.cli import main
from console.events import StatePublished
from console.recording.writer import Recorder
from console.recording.format import Recording, RecordingError
from console.recording.replay import Replay, parse_instant

TICK = 15.0
SWITCH_AT = 30 * 60  # error-spike for 30 min (HighErrorRate fires, an incident opens), then normal (it recovers)
LENGTH = 67 * 60  # longer than the engine's 65 min retention: a seek at the end rebuilds a cut window


def published(state) -> dict:
    doc = json.loads(json.dumps(state.to_json(), default=str))
    doc.pop("mode")  # "live" there, "replay" here: everything else must be equal
    return doc


async def _record(path) -> dict[float, dict]:
    w = await start_watch("error-spike", tick=TICK, metrics_interval=TICK)
    try:
        rec = await Recorder(w.engine, path).start()
        # start_watch already ticked once; forget it so that live and the recording start from the same point
        w.engine.reset()
        live: dict[float, dict] = {}
        w.engine.hub.subscribe(StatePublished, lambda ev: live.__setitem__(ev.state.ts, published(ev.state)))
        await w.run_for(SWITCH_AT)
        w.fleet.set_scenario("normal")
        await w.run_for(LENGTH - SWITCH_AT)
        await rec.stop()
        assert rec.error is None
    finally:
        await w.engine.stop()
        await w.demo.stop()
    return live


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One recording shared by this module's tests, and every state the live run published."""
    tmp = tmp_path_factory.mktemp("replay")
    old = os.environ.get("OPSCONSOLE_DATA_DIR")
    os.environ["OPSCONSOLE_DATA_DIR"] = str(tmp / "data")
    try:
        live = asyncio.run(_record(tmp / "run.opsrec"))
    finally:
        os.environ.pop("OPSCONSOLE_DATA_DIR") if old is None else os.environ.__setitem__("OPSCONSOLE_DATA_DIR", old)
    return tmp / "run.opsrec", live


def _rule(doc: dict, name: str):
    return next((r for r in doc["rules"] if r["name"] == name), None)


def test_the_recording_holds_an_incident_and_its_recovery(recorded):
    _, live = recorded
    docs = [live[t] for t in sorted(live)]
    assert any((_rule(d, "HighErrorRate") or {}).get("state") == "firing" for d in docs)
    assert _rule(docs[-1], "HighErrorRate") is None
    last = docs[-1]["incidents"]
    assert any(i["rule"] == "HighErrorRate" and i["recovered"] for i in last)


def test_the_recording_keeps_each_parts_versioned_snapshot(recorded):
    path, _ = recorded
    rec = Recording(str(path))
    try:
        memos = memo_history(rec)  # the figures' in a memo stream's chunks, the rest as events
    finally:
        rec.close()
    assert {k for _, k, _ in memos} == {"memo:figures", "memo:alerts", "memo:transitions", "memo:incidents",
                                       "memo:actions"}
    assert all(d["v"] == 1 for _, _, d in memos)
    assert any("firing" in d["states"].values() for _, k, d in memos if k == "memo:transitions")


@pytest.mark.parametrize("use_states", [True, False], ids=["recorded-states", "engine"])
def test_forward_replay_equals_every_published_state(recorded, use_states):
    path, live = recorded
    replay = Replay(str(path), use_states=use_states)
    try:
        for ts in sorted(live):
            replay.advance(ts)
            assert replay.position == ts
            assert published(replay.state) == live[ts], f"at +{ts - min(live):.0f}s"
        assert replay.state.mode == "replay"
        assert replay.from_states == use_states
        assert replay.skipped == []
    finally:
        replay.close()


@pytest.mark.parametrize("use_states", [True, False], ids=["recorded-states", "engine"])
def test_a_seek_rebuilds_windows_rules_and_incidents_exactly(recorded, use_states):
    path, live = recorded
    ticks = sorted(live)
    firing = next(t for t in ticks if (_rule(live[t], "HighErrorRate") or {}).get("state") == "firing")
    replay = Replay(str(path), use_states=use_states)
    try:
        # the end (its 1 h window starts after the recording does), back into the incident, between two
        # ticks (the state is the last tick's), the very start, and after the recovery
        for target in (ticks[-1], firing + 120, ticks[100] + TICK / 2, ticks[0], ticks[-30]):
            replay.seek(target)
            shown = max(t for t in ticks if t <= target)
            assert replay.position == shown
            assert published(replay.state) == live[shown], f"seek to +{target - ticks[0]:.0f}s"
        # and playing on from a seek is the live path again
        replay.seek(firing)
        for ts in [t for t in ticks if firing < t <= firing + 300]:
            replay.advance(ts)
            assert published(replay.state) == live[ts]
        assert replay.from_states == use_states and replay.skipped == []
    finally:
        replay.close()


def test_snapshot_at_prints_the_snapshot_document(recorded, capsys):
    path, live = recorded
    ticks = sorted(live)
    assert main(["replay", str(path), "--snapshot-at", "-30s", "--json"]) == 0  # nothing firing by then
    doc = json.loads(capsys.readouterr().out)
    assert doc["mode"] == "replay"
    want = live[max(t for t in ticks if t <= ticks[-1] - 30)]
    assert {k: v for k, v in doc.items() if k != "mode"} == want
    firing = next(t for t in ticks if live[t]["firing"])
    iso = recording_iso(firing)
    assert main(["replay", str(path), "--snapshot-at", iso, "--json"]) == 1  # like snapshot: 1 when firing
    assert json.loads(capsys.readouterr().out)["firing"] >= 1


def recording_iso(ts: float) -> str:
    from console.clock import utc_iso

    return utc_iso(ts)


def test_instants():
    from console.clock import parse_iso

    start = parse_iso("2026-11-18T07:46:40Z")
    end = start + 86400 + 3600  # a day and an hour
    assert parse_instant("start", start, end) == start and parse_instant("end", start, end) == end
    assert parse_instant("-30s", start, end) == end - 30
    assert parse_instant("+5m", start, end) == start + 300
    assert parse_instant("-15m", start, end, here=start + 3600) == start + 2700
    assert parse_instant("2026-11-18T08:00:00Z", start, end) == start + 800
    assert parse_instant("08:00", start, end) == start + 800
    assert parse_instant("07:00:30", start, end) == start + 86400 - 2770  # 07:00 is only on the second day
    for bad in ("soon", "25:00", "-5x"):
        with pytest.raises(ValueError):
            parse_instant(bad, start, end)


# --- bad input: one clear line and exit 2 -------------------------------------------------------


def _fails(capsys, path, *extra) -> str:
    assert main(["replay", str(path), "--snapshot-at", "end", "--json", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("opsconsole: ") and "\n" not in err and "Traceback" not in err
    return err


def test_bad_files_are_one_line_and_exit_2(recorded, tmp_path, capsys):
    path, _ = recorded
    text = tmp_path / "notes.opsrec"
    text.write_text("not a recording\n" * 100)
    assert "not an SQLite file" in _fails(capsys, text)

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    assert "SQLite file of something else" in _fails(capsys, other)

    data = path.read_bytes()
    cut = tmp_path / "cut.opsrec"
    cut.write_bytes(data[: len(data) // 2])
    assert "truncated" in _fails(capsys, cut)

    newer = tmp_path / "newer.opsrec"
    newer.write_bytes(data)
    with sqlite3.connect(newer) as c:
        c.execute("PRAGMA user_version = 99")
    assert "newer than this console" in _fails(capsys, newer)

    assert "cannot read" in _fails(capsys, tmp_path / "missing.opsrec")
    assert "outside the recording" in _fails(capsys, path, "--snapshot-at", "2020-01-01T00:00:00Z")


def test_a_partly_damaged_recording_replays_the_rest_and_says_what_was_skipped(recorded, tmp_path, capsys):
    path, live = recorded
    damaged = tmp_path / "damaged.opsrec"
    damaged.write_bytes(path.read_bytes())
    with sqlite3.connect(damaged) as c:  # garble a few minutes of one series
        sid = c.execute("SELECT id FROM streams WHERE kind = 'series' AND labels LIKE '%http_requests_total%'"
                        " LIMIT 1").fetchone()[0]
        c.execute("UPDATE chunks SET data = x'7a0102030405' WHERE stream_id = ? AND t0 IN"
                  " (SELECT t0 FROM chunks WHERE stream_id = ? ORDER BY t0 DESC LIMIT 3)", (sid, sid))
    # the recorded states do not read the series: the state at the end is the one shown live, nothing skipped
    assert main(["replay", str(damaged), "--snapshot-at", "end", "--json"]) in (0, 1)
    out = capsys.readouterr()
    assert {k: v for k, v in json.loads(out.out).items() if k != "mode"} == live[max(live)]
    assert out.err == ""
    with sqlite3.connect(damaged) as c:  # and the last minute's states garbled too: through the engine
        c.execute("UPDATE chunks SET data = x'780102030405' WHERE stream_id = (SELECT id FROM streams WHERE"
                  " kind = 'states') AND t0 = (SELECT max(t0) FROM chunks WHERE stream_id = (SELECT id FROM streams"
                  " WHERE kind = 'states'))")
    assert main(["replay", str(damaged), "--snapshot-at", "end", "--json"]) in (0, 1)
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert set(doc["services"]) == set(live[max(live)]["services"])
    assert doc["services"]["pulse"] == live[max(live)]["services"]["pulse"]  # untouched series: as live
    assert "skipped unreadable data" in out.err and f"stream {sid}" in out.err
    said = [line for line in out.err.splitlines() if "states" in line]  # one line, none from the generic reader
    assert len(said) == 1 and "recorded states at" in said[0] and "shown through the engine instead" in said[0], \
        out.err


def test_a_newer_schema_is_migrated_forward(recorded, tmp_path, monkeypatch):
    """The migration path: a v1 file opened by a console whose schema is v2 is upgraded in place."""
    path, live = recorded
    old = tmp_path / "v1.opsrec"
    old.write_bytes(path.read_bytes())
    monkeypatch.setattr(recording, "MIGRATIONS", recording.MIGRATIONS + [["ALTER TABLE streams ADD COLUMN unit TEXT"]])
    monkeypatch.setattr(recording, "SCHEMA_VERSION", 2)
    rec = Recording(old)
    try:
        assert rec.conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert "unit" in [r[1] for r in rec.conn.execute("PRAGMA table_info(streams)")]
        assert rec.end == max(live)
    finally:
        rec.close()


def test_an_empty_recording_says_so(tmp_path):
    path = tmp_path / "empty.opsrec"
    conn = sqlite3.connect(path)
    recording.migrate(conn, str(path))
    conn.close()
    with pytest.raises(RecordingError, match="empty"):
        Replay(str(path))


# --- the replay screen, as a user drives it ----------------------------------------------------


async def _until(pilot, cond, what: str, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def test_replay_screen_keys_timeline_and_disabled_mitigations(recorded):
    from textual.widgets import Input

    from screens.replay import ReplayApp
    from widgets.header_bar import HeaderBar
    from widgets.replay_timeline import ReplayTimeline

    path, live = recorded
    ticks = sorted(live)
    app = ReplayApp(Replay(str(path)))
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: app.replay.position == ticks[0], "the first tick")
        screen = app.screen
        # its state reaches the screen as a message after the replay steps: wait for it to be shown
        await _until(pilot, lambda: "REPLAY" in screen.query_one(HeaderBar).ident.text, "the header says REPLAY")
        timeline = screen.query_one(ReplayTimeline)
        assert "paused" in timeline.status.text and "mitigations disabled" in timeline.status.text
        assert "▲" in timeline.bar.text and "●" in timeline.bar.text  # the incident is marked on the bar

        async def shows(t: float, what: str):
            await _until(pilot, lambda: app.replay.position == t and not screen._busy, what)
            await pilot.pause()
            assert published(app.session.state) == live[t]
            assert recording_iso(t).replace("T", " ").replace("Z", " UTC") in screen.query_one(HeaderBar).clock.text
            assert recording_iso(t)[11:19] in timeline.status.text  # the recording's time, not this machine's

        await pilot.press("shift+right")
        await shows(max(t for t in ticks if t <= ticks[0] + 60), "+1 min")
        await pilot.press("end")
        await shows(ticks[-1], "the end")
        await pilot.press("left")
        await shows(max(t for t in ticks if t <= ticks[-1] - 10), "-10 s (a seek back)")
        await pilot.press("left_square_bracket")
        last_event = max(ts for ts, kind, _ in app.replay.marks() if kind in ("rule", "incident") and ts < ticks[-1] - 10)
        await shows(last_event, "the previous transition")
        await pilot.press("home")
        await shows(ticks[0], "the start")
        await pilot.press("g")
        await _until(pilot, lambda: bool(app.screen.query(Input)), "the go-to prompt")
        app.screen.query_one(Input).value = "+20m"
        await pilot.press("enter")
        await shows(max(t for t in ticks if t <= ticks[0] + 1200), "+20m")

        screen.query_one("#incident-table").focus()
        await pilot.press("a")  # acknowledge, on the incident table
        await pilot.pause()
        assert any(n.message.startswith("Incident changes are disabled in replay") for n in app._notifications)
        assert live[app.replay.position]["incidents"], "the recording has an incident to try acknowledging"
        assert not any("acknowledged" in n.message for n in app._notifications)
        assert published(app.session.state) == live[app.replay.position]  # the replayed incident unchanged
        screen.query_one("#conversion").focus()
        await pilot.press("d")  # a mitigation key of the conversion panel
        await pilot.pause()
        assert any(n.message.startswith("Mitigations are disabled in replay") for n in app._notifications)
        for _ in range(6):
            await pilot.press("plus")
        assert "max" in timeline.status.text
        await pilot.press("space")
        await _until(pilot, lambda: app.replay.position == ticks[-1] and not screen.playing, "playing to the end")
        assert published(app.session.state) == live[ticks[-1]]
        path_png = path.parent / "replay.svg"
        app.save_screenshot(str(path_png))


# --- keyframes: a seek loads the windows from arrays; a recording without them still replays ---------------


def _without_states(path, tmp_path, name: str = "stateless.opsrec"):
    """The same recording as a console made before recorded states would have written it."""
    old = tmp_path / name
    old.write_bytes(path.read_bytes())
    with sqlite3.connect(old) as c:
        assert c.execute("DELETE FROM chunks WHERE stream_id IN (SELECT id FROM streams WHERE kind = 'states')"
                         ).rowcount > 0
        c.execute("DELETE FROM streams WHERE kind = 'states'")
    return old


def _without_keyframes(path, tmp_path):
    """The same recording as a console made before keyframes (and states) would have written it."""
    legacy = _without_states(path, tmp_path, "legacy.opsrec")
    with sqlite3.connect(legacy) as c:
        assert c.execute("DELETE FROM events WHERE kind = 'keyframe'").rowcount > 0
    return legacy


def test_the_recorder_writes_a_keyframe_every_minute_of_data(recorded):
    path, live = recorded
    rec = Recording(str(path))
    try:
        keys = [ts for ts, _, _ in rec.events(kinds=("keyframe",))]
    finally:
        rec.close()
    assert keys and set(keys) <= set(live)  # at recorded ticks
    assert all(b - a == keyframes.EVERY for a, b in zip(keys, keys[1:]))
    assert len(keys) == int(max(live) // keyframes.EVERY) - int(min(live) // keyframes.EVERY)  # at whole multiples


def test_keyframed_and_legacy_seeks_give_the_live_state(recorded, tmp_path):
    path, live = recorded
    ticks = sorted(live)
    keyed, legacy = Replay(str(_without_states(path, tmp_path))), Replay(str(_without_keyframes(path, tmp_path)))
    try:
        assert keyed.keyframes and not legacy.keyframes and keyed.states is None is legacy.states
        firing = next(t for t in ticks if (_rule(live[t], "HighErrorRate") or {}).get("state") == "firing")
        # just after a keyframe, just before the next, in the incident, past the 65 min window, the very start
        keys = [ts for ts, _, _ in keyed.rec.events(kinds=("keyframe",))]
        plotted = 0
        for target in (keys[0], keys[3] + 15, keys[4] - 1, firing + 120, ticks[-1], ticks[0], keys[-1] + 45):
            keyed.seek(target)
            legacy.seek(target)
            shown = max(t for t in ticks if t <= target)
            assert keyed.position == legacy.position == shown
            assert published(keyed.engine.state) == published(legacy.engine.state) == live[shown], \
                f"seek to +{target - ticks[0]:.0f}s"
            # the detail screen's plots over the hour, of series the engine derives (up, the JSON gauges, the
            # staleness markers count_over_time leaves out) and of scraped ones
            for expr in ("sum(count_over_time(up[5m]))", "sum(count_over_time(opsconsole_converge_debt_score[5m]))",
                         "sum(count_over_time(http_requests_total[5m]))"):
                plot = keyed.engine.range_query(expr, shown - 3600, shown, 60)
                assert plot == legacy.engine.range_query(expr, shown - 3600, shown, 60), expr
                plotted += len(plot)
        assert plotted > 6 * 60  # six of the seeks plot most of an hour
        keyed.seek(firing)  # and playing on from a keyframed seek is the live path again
        for ts in [t for t in ticks if firing < t <= firing + 300]:
            keyed.advance(ts)
            assert published(keyed.engine.state) == live[ts]
    finally:
        keyed.close()
        legacy.close()


def test_a_recording_without_keyframes_says_so(recorded, tmp_path):
    from console.replay_session import ReplaySession

    path, _ = recorded
    old = ReplaySession(Replay(str(_without_keyframes(path, tmp_path))), audit_dir=str(tmp_path))
    new = ReplaySession(Replay(str(path)), audit_dir=str(tmp_path))
    try:
        assert any("no keyframes" in line for _, line in old.notices())
        assert not any("keyframes" in line or "states" in line for _, line in new.notices())
    finally:
        old.replay.close()
        new.replay.close()


# --- recorded states: a seek shows the state published then, without an engine ---------------------------------


def _block_starts(ticks: list[float]) -> list[float]:
    """The first tick of each five minutes (where the recorder writes a whole document)."""
    return [b for a, b in zip(ticks, ticks[1:]) if a // 300 != b // 300]


def test_a_recording_without_states_still_replays_and_says_seeks_are_slower(recorded, tmp_path):
    from console.replay_session import ReplaySession

    path, live = recorded
    ticks = sorted(live)
    session = ReplaySession(Replay(str(_without_states(path, tmp_path))), audit_dir=str(tmp_path))
    try:
        said = [line for _, line in session.notices()]
        assert said == ["this recording has no recorded states (an older console made it): a seek rebuilds the hour"
                        " before its target, which takes a moment"]
        replay = session.replay
        replay.seek(ticks[200])
        assert not replay.from_states and published(replay.state) == live[ticks[200]]
        for ts in ticks[201:210]:
            replay.advance(ts)
            assert published(session.state) == live[ts]
    finally:
        session.replay.close()


def test_state_seeks_equal_engine_seeks_and_live_at_every_kind_of_instant(recorded):
    """The recorded states against the engine path on the same file, at instants all over the recording: a whole
    document's tick, the ones just after and before it, inside the incident, past the 65 min window, the ends."""
    path, live = recorded
    ticks = sorted(live)
    fast, engine = Replay(str(path)), Replay(str(path), use_states=False)
    try:
        block = _block_starts(ticks)
        instants = [ticks[0], ticks[1], block[2], block[2] + TICK, block[3] - TICK, ticks[-1]] + ticks[7::23]
        for target in instants:
            fast.seek(target)
            engine.seek(target)
            assert fast.from_states and not engine.from_states
            assert fast.position == engine.position == target
            assert published(fast.state) == published(engine.state) == live[target], f"+{target - ticks[0]:.0f}s"
        assert fast.skipped == []
    finally:
        fast.close()
        engine.close()


def test_after_a_state_seek_the_engine_is_built_on_demand_and_playing_on_stays_live(recorded):
    path, live = recorded
    ticks = sorted(live)
    firing = next(t for t in ticks if (_rule(live[t], "HighErrorRate") or {}).get("state") == "firing")
    replay, reference = Replay(str(path)), Replay(str(path), use_states=False)
    try:
        replay.seek(firing + 60)
        at = replay.position
        assert replay.from_states
        # what a plot or the incident detail reads: the engine, brought to the instant shown
        engine = replay.ensure_engine()
        reference.seek(at)
        assert published(engine.state) == live[at]
        for expr in ("sum(count_over_time(up[5m]))", "sum(rate(http_requests_total[5m]))"):
            plot = engine.range_query(expr, at - 3600, at, 60)
            assert plot and plot == reference.engine.range_query(expr, at - 3600, at, 60), expr
        # playing on goes on from the recorded states, each tick as published live, across a whole document
        for ts in [t for t in ticks if at < t <= at + 600]:
            replay.advance(ts)
            assert replay.position == ts and published(replay.state) == live[ts]
        assert replay.from_states
    finally:
        replay.close()
        reference.close()


def test_a_missing_minute_of_states_is_found_and_shown_through_the_engine(recorded, tmp_path):
    """A batch that never reached the file (a full disk): the diffs after it do not follow the document in hand."""
    path, live = recorded
    ticks = sorted(live)
    gap = tmp_path / "gap.opsrec"
    gap.write_bytes(path.read_bytes())
    block = _block_starts(ticks)[4]
    with sqlite3.connect(gap) as c:
        assert c.execute("DELETE FROM chunks WHERE stream_id = (SELECT id FROM streams WHERE kind = 'states')"
                         " AND t0 >= ? AND t0 < ?", (round((block + 60) * 1000), round((block + 120) * 1000))
                         ).rowcount == 1
    replay = Replay(str(gap))
    try:
        replay.seek(block + 150)  # after the missing minute, in the same five minutes: cannot be applied
        assert not replay.from_states and published(replay.state) == live[replay.position]
        replay.seek(block + 30)  # before it: from the states again
        assert replay.from_states and published(replay.state) == live[replay.position]
        for ts in [t for t in ticks if block + 30 < t <= block + 300]:  # playing through the gap
            replay.advance(ts)
            assert published(replay.state) == live[ts], f"+{ts - block:.0f}s"
        assert not replay.from_states  # went on through the engine after the gap
        assert len(replay.skipped) == 2 and all("shown through the engine instead" in s for s in replay.skipped)
    finally:
        replay.close()


async def test_the_replays_incident_detail_and_plots_after_a_state_seek_are_the_engines(recorded, tmp_path):
    """What the detail screens ask the replay façade beyond the state (the playbook's values, a plot) is read from
    the engine, brought to the instant shown: the same as a replay that sought through the engine."""
    from console.replay_session import ReplaySession

    path, live = recorded
    ticks = sorted(live)
    firing = next(t for t in ticks if live[t]["incidents"])
    fast = ReplaySession(Replay(str(path)), audit_dir=str(tmp_path))
    slow = ReplaySession(Replay(str(path), use_states=False), audit_dir=str(tmp_path))
    try:
        for session in (fast, slow):
            await session.seek(firing + 300)
        assert fast.replay.from_states and not slow.replay.from_states
        assert published(fast.state) == published(slow.state) == live[fast.position]
        iid = fast.state.incidents[0].id
        views = [await s.request({"cmd": "incident.view", "id": iid}) for s in (fast, slow)]
        assert views[0]["ok"] and views[0] == views[1] and views[0]["at"] == fast.position
        assert any(value for step in views[0]["live"] for _, value in step)  # the playbook's values, not blanks
        plot = {"cmd": "range", "exprs": ["sum(rate(http_requests_total[5m]))"], "span": 1800, "step": 60}
        plots = [await s.request(plot) for s in (fast, slow)]
        assert plots[0]["series"][0] and plots[0] == plots[1] and plots[0]["now"] == fast.position
    finally:
        fast.replay.close()
        slow.replay.close()
