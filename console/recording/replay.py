"""Replay: a recording drives a normal Engine (ingest + evaluate at the recorded ticks) on a virtual clock."""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections import defaultdict, deque
from functools import partial
from datetime import datetime, timezone
from typing import Any, Callable

from console.clock import VirtualClock, parse_iso, utc_iso
from console.config.schema import ConfigError, parse_config
from console.durations import parse_duration
from console.engine import Engine
from console.model import Observation, Sample
from console.state import ConsoleState
from . import answers, keyframes, states
from . import memos as memo
from .format import JSON, SCRAPE, SERIES, TICK, Poll, Recording, RecordingError, minute_of

log = logging.getLogger(__name__)

SLICE_MS = 60_000  # read a minute at a time: chunks are minutes
MARK_KINDS = ("rule", "incident", "audit")

# --- reading a recording as the engine's input ----------------------------------------------


class Replay:
    """A recording replayed: `seek` to any instant, `advance` tick by tick; `state` is what is shown.

    A recording with states (console/recording/states.py) is shown from them: a seek is the nearest whole document
    plus the diffs after it, playing forward applies the next diffs; what was published live, with no engine.
    The engine (`engine`, the same object throughout) is brought to the position only when asked
    (`engine_at_position`: a plot, the incident detail's values). A recording without states, a damaged state
    (said once, in `skipped`), or `use_states=False` goes through the engine: ingest + evaluate, as live did.
    """

    def __init__(self, path: str, use_states: bool = True) -> None:
        self.rec = Recording(path)
        if self.rec.start is None:
            self.rec.close()
            raise RecordingError(f"{path}: the recording is empty (no evaluation tick was recorded)")
        try:
            doc = json.loads(self.rec.meta["config"])
            cfg = parse_config(doc, doc.get("source_path", path))
        except (KeyError, ValueError, ConfigError) as e:
            self.rec.close()
            raise RecordingError(f"{path}: its config cannot be read by this console: {e}") from None
        self.clock = VirtualClock(self.rec.start)
        scenario = json.loads(self.rec.meta.get("scenario", "null"))
        self.engine = Engine(cfg.model_copy(update={"prometheus": None}), self.clock, mode="replay", scenario=scenario)
        self.position: float | None = None  # the tick the state shows
        self.samples = 0  # samples ingested (throughput figures)
        self._queue: deque = deque()
        self._loaded_ms = minute_of(round(self.rec.start * 1000))  # slices before this are queued or done
        self._payload: dict[int, Any] = {}
        self._memos: dict[float, dict[str, Any]] = {}
        self._decoded: dict = {}  # chunks decoded by earlier seeks (keyframes.windows): a seek nearby reuses them
        # recordings made before keyframes seek by replaying the hour before the target (slower): said on screen
        self.keyframes = keyframes.has_keyframes(self.rec)
        # [prometheus]: the server's recorded answers stand in for it (the header says they came from it)
        self.answers = answers.RecordedAnswers(cfg, self.engine.store) if answers.recorded(self.rec) else None
        if self.answers is not None:
            self.engine.backend = self.answers
            self.engine.state.backend = self.answers.state
        self._answer_docs: dict[float, list[dict]] = {}
        self.use_states = use_states
        self.states = states.stream(self.rec) if use_states else None  # the states stream, when recorded
        self.state: ConsoleState | None = None  # what is shown at `position`
        self._via_states = self.states is not None  # `state` comes from the recorded states (else the engine)
        self._doc: dict | None = None  # the recorded document at `position` (the next diff's base)
        self._squeue: deque = deque()  # recorded states read ahead of `position`
        self._sloaded_ms = self._loaded_ms  # states before this are queued or done
        self._engine_at: float | None = None  # the tick the engine was last evaluated at
        self._viewers: list[Callable[[ConsoleState], None]] = []

    @property
    def start(self) -> float:
        return self.rec.start

    @property
    def end(self) -> float:
        return self.rec.end

    @property
    def skipped(self) -> list[str]:
        return self.rec.skipped

    def close(self) -> None:
        self.rec.close()

    # --- reading (in a worker thread when the UI drives: every read is a thunk the driver runs) ----

    def read_slice(self, a_ms: int, b_ms: int) -> tuple[list[tuple], dict]:
        """(items, memos): (ts, order, stream, Observation | None) for every poll and tick in [a_ms, b_ms),
        in live order (the polls of a tick, then the tick), and the incidents/actions memos by tick.

        [a_ms, b_ms) may cut a minute (the live edge of a file still being written): its chunks are read whole
        and only their entries inside the range are taken, so the rest of that minute is read next time."""
        rec = self.rec
        scraped: dict[tuple, list[Sample]] = defaultdict(list)
        rows = rec.chunks(minute_of(a_ms), b_ms)
        for sid, t0, _, data in rows:
            s = rec.streams.get(sid)
            dec = rec.decode(sid, t0, data) if s is not None and s.kind == SERIES else None
            if dec is None:
                continue
            t_ms, values, explicit = dec
            for i, (t, v) in enumerate(zip(t_ms, values)):
                if not a_ms <= t < b_ms:
                    continue
                ts = None if explicit is None or explicit[i] is None else explicit[i] / 1000
                scraped[(s.source, s.endpoint, t)].append(Sample(s.labels, v, ts))
        items = []
        for sid, t0, _, data in rows:
            if sid not in rec.streams or rec.streams[sid].kind not in (SCRAPE, JSON, TICK):  # memos: memos.py
                continue
            for p in rec.decode(sid, t0, data) or ():
                if a_ms <= round(p.ts * 1000) < b_ms:
                    items.append(self._item(sid, p, scraped))
        items.sort(key=lambda it: it[:3])
        memos: dict[float, dict] = {}
        kinds = tuple(f"memo:{p}" for p in memo.FORWARD) + ((answers.FULL, answers.DELTA) if self.answers else ())
        # by the same millisecond as the polls: a wall-clock tick at 12:00:59.9996 belongs to the next minute
        for ts, kind, data in rec.events((a_ms - 0.5) / 1000, (b_ms - 0.5) / 1000, kinds):
            if not a_ms <= round(ts * 1000) < b_ms:
                continue
            if kind.startswith("answers:"):
                memos.setdefault(ts, {}).setdefault("answers", []).append(data)
            else:
                memos.setdefault(ts, {})[kind[5:]] = memo.read(kind[5:], data)
        return items, memos

    def _item(self, sid: int, p: Poll, scraped: dict) -> tuple:
        s = self.rec.streams[sid]
        if s.kind == TICK:
            return p.ts, 1, 0, None
        if s.kind == SCRAPE:
            samples = None if p.error else tuple(scraped.get((s.source, s.endpoint, round(p.ts * 1000)), ()))
            obs = Observation(p.ts, s.source, s.endpoint, samples=samples, error=p.error, status=p.status)
        else:
            if p.payload_text is not None:
                self._payload[sid] = json.loads(p.payload_text)
            payload = None if p.error else self._payload.get(sid)
            obs = Observation(p.ts, s.source, s.endpoint, payload=payload, error=p.error, status=p.status)
        return p.ts, 0, sid, obs

    def _next_slice(self):
        # never past the newest recorded tick: what a file still being written holds beyond it may be incomplete
        a = self._loaded_ms
        b = self._loaded_ms = min(minute_of(a) + SLICE_MS, round(self.end * 1000) + 1)
        return partial(self.read_slice, a, b)

    def refresh(self) -> bool:
        """Re-read how far the recording goes (a file another console is still writing): True when it grew."""
        end = self.end
        self.rec.refresh()
        self.keyframes = self.keyframes or keyframes.has_keyframes(self.rec)
        if self.use_states and self.states is None:  # a file being written: its first states may land later
            self.states = states.stream(self.rec)
        return self.end > end

    @property
    def closed(self) -> bool:
        """Whether the console that wrote the file has stopped recording into it (a killed one never says so)."""
        return "closed" in self.rec.meta

    def _enqueue(self, got: tuple[list, dict]) -> None:
        items, memos = got
        self._queue.extend(items)
        for ts, parts in memos.items():
            docs = parts.pop("answers", None)
            if docs:
                self._answer_docs.setdefault(ts, []).extend(docs)
            self._memos.setdefault(ts, {}).update(parts)

    def _ingest(self, obs: Observation) -> None:
        self.engine.ingest(obs)
        if obs.samples:
            self.samples += len(obs.samples)

    def subscribe(self, fn: Callable[[ConsoleState], None]) -> None:
        """Call `fn` with each state the replay shows (a recorded one, or the engine's), never with the engine's
        when it is only being brought to the instant shown (`engine_at_position`)."""
        self._viewers.append(fn)

    def _evaluate(self, ts: float, show: bool = True) -> None:
        """Evaluate at a recorded tick and publish it, with incidents and actions (human steps included) as the
        recording says they were at this tick: restored between the evaluation and the publication."""
        self.clock.set(ts)
        for t in sorted(t for t in self._answer_docs if t <= ts):  # the server's answers used at this tick
            for doc in self._answer_docs.pop(t):
                self.answers.apply(doc)
        if self.answers is not None:
            self.answers.at = ts
        self.engine.step(ts)
        parts = self.engine.parts()
        for t in [t for t in self._memos if t <= ts]:
            for part, value in self._memos.pop(t).items():
                if t == ts:
                    parts[part].restore(value)
        self.engine.publish()
        self._engine_at = ts
        if show:
            self.position, self.state = ts, self.engine.state
            for fn in self._viewers:
                fn(self.state)

    # --- moving: generators that yield reads and get their results back ---------------------

    def play(self, until: float, budget: Callable[[], bool] | None = None):
        """Forward through every recorded tick <= until, showing each as it was published live: the recorded
        states, else the live path (ingest, then evaluate at the recorded tick). Stops early when `budget()`
        says so (the UI keeps its frame rate)."""
        if self._via_states and self.states is not None:
            if (yield from self._play_states(until, budget)):
                return
            self._via_states = False  # a state that cannot be read: the engine from here (said in `skipped`)
            if self.position is not None:
                yield from self._seek_engine(self.position)
        while True:
            while self._queue and self._queue[0][0] <= until:
                ts, order, _, obs = self._queue.popleft()
                if order == 0:
                    self._ingest(obs)
                    continue
                self._evaluate(ts)
                if budget is not None and budget():
                    return
            # a file still being recorded plays to the newest tick read so far (`refresh` finds newer ones)
            if self._queue or self._loaded_ms > round(min(until, self.end) * 1000):
                return
            self._enqueue((yield self._next_slice()))

    def _play_states(self, until: float, budget: Callable[[], bool] | None):
        """play() over the recorded states: True when done (or out of budget), False when one cannot be read."""
        while True:
            while self._squeue and self._squeue[0].ts <= until:
                e = self._squeue.popleft()
                if self.position is not None and e.ts <= self.position:
                    continue
                try:
                    if self._doc is None and e.base is not None:
                        raise states.StateError("a state is missing (a diff with no document before it)")
                    doc = states.step(self._doc, e)
                except states.StateError as err:
                    self._fallback(err, e.ts)
                    return False
                self._show(doc, e.ts)
                if budget is not None and budget():
                    return True
            if self._squeue or self._sloaded_ms > round(min(until, self.end) * 1000):
                return True
            a = self._sloaded_ms
            b = self._sloaded_ms = min(minute_of(a) + SLICE_MS, round(self.end * 1000) + 1)
            got, err = yield partial(self._read_states, a, b)
            if err is not None:
                self._fallback(err, a / 1000)
                return False
            self._squeue.extend(got)

    def _read_states(self, a_ms: int, b_ms: int) -> tuple[list, states.StateError | None]:
        """The recorded states in [a_ms, b_ms), each recorded tick's among them (a minute that never reached the
        file is found here, not shown as a pause)."""
        try:
            got = states.entries(self.rec, self.states, a_ms, b_ms)
            sid, have = self.rec.tick_stream, {round(e.ts * 1000) for e in got}
            for _, t0, _, data in self.rec.chunks(minute_of(a_ms), b_ms, sid):
                for p in self.rec.decode(sid, t0, data) or ():
                    if a_ms <= round(p.ts * 1000) < b_ms and round(p.ts * 1000) not in have:
                        raise states.StateError("a state is missing (a tick was recorded without one)")
            return got, None
        except states.StateError as err:
            return [], err

    def _doc_at(self, at: float) -> dict | None:
        try:
            return states.doc_at(self.rec, self.states, at)
        except states.StateError as err:
            self._fallback(err, at)
            return None

    def _fallback(self, err: states.StateError, at: float) -> None:
        line = f"recorded states at {utc_iso(at)}: {err}; shown through the engine instead (slower)"
        log.warning("%s: %s", self.rec.path, line)
        self.rec.note(line)

    def _show(self, doc: dict, ts: float) -> None:
        """Show a recorded document: the state at `ts`, published as the engine publishes its own."""
        self._doc, self.position = doc, ts
        self.clock.set(ts)  # the replay's time is the tick shown (a plot's `now`)
        self.state = states.to_state(doc, self.engine.state.mode, self.answers.state if self.answers else None)
        for fn in self._viewers:
            fn(self.state)

    def seek_to(self, target: float):
        """Show the last tick <= target: from the recorded states when there are, else through the engine."""
        target = min(max(target, self.start), self.end)
        at = yield partial(self._tick_at_or_before, target)
        if self.states is not None:
            doc = yield partial(self._doc_at, at)
            if doc is not None:
                self._squeue.clear()
                self._sloaded_ms = round(at * 1000) + 1
                self._via_states = True
                self._show(doc, at)
                return
        self._via_states = False
        yield from self._seek_engine(at)

    def engine_at_position(self):
        """Bring the engine to the tick shown (after a seek or playback from the recorded states): what a plot or
        the incident detail's values read. Nothing to do when it is there already."""
        if self.position is not None and self._engine_at != self.position:
            at = self.position
            yield from self._seek_engine(at, show=False)
            self.clock.set(self.position if self.position is not None else at)

    def _seek_engine(self, at: float, show: bool = True):
        """Rebuild the engine at tick `at`: the windows from the hour before it (the engine's retention), what it
        remembers beyond them from the memos, each endpoint as it last stood (`show`: and show its state)."""
        eng = self.engine
        eng.reset()
        self._queue.clear()
        self._memos.clear()
        self._payload.clear()
        self._answer_docs.clear()
        if self.answers is not None:
            for doc in (yield partial(answers.at, self.rec, at)):
                self.answers.apply(doc)
        window = minute_of(round((at - eng.store.retention) * 1000) - SLICE_MS)  # + a minute for lookback edges
        key = (yield partial(keyframes.latest_before, self.rec, at)) if self.keyframes else None
        if key is not None and round(key * 1000) > window:
            # the windows up to the keyframe from arrays; each endpoint as it stood then; the rest through the engine
            k_ms = round(key * 1000)
            loaded = yield partial(keyframes.windows, self.rec, window, k_ms, self._decoded)
            keyframes.load(eng.store, loaded)
            window = k_ms + 1
        prelude, memos = yield partial(self._prelude, window, at)
        for obs in prelude:
            self._ingest(obs)
        parts = eng.parts()
        for part, value in memos.items():
            parts[part].restore(value)
        self._loaded_ms = window
        while self._loaded_ms <= round(at * 1000):
            self._enqueue((yield self._next_slice()))
            while self._queue and self._queue[0][0] <= at:
                _, order, _, obs = self._queue.popleft()  # ticks before `at` are skipped: memos stand for them
                if order == 0:
                    self._ingest(obs)
        for t in [t for t in self._answer_docs if t <= at]:  # in force already (answers.at above)
            del self._answer_docs[t]
        self._evaluate(at, show)

    def advance(self, until: float) -> None:
        drive(self.play(until))

    def seek(self, target: float) -> None:
        drive(self.seek_to(target))

    @property
    def from_states(self) -> bool:
        """Whether `state` came from the recorded states (its own object) rather than the engine (rebuilt in place
        by the next seek)."""
        return self._via_states and self.position is not None and self._doc is not None

    def ensure_engine(self) -> Engine:
        """The engine at the tick shown (rebuilt here when it is not)."""
        drive(self.engine_at_position())
        return self.engine

    def _tick_at_or_before(self, t: float) -> float:
        ms = round(t * 1000)
        sid = self.rec.tick_stream
        for a in range(minute_of(ms), minute_of(round(self.start * 1000)) - SLICE_MS, -SLICE_MS):
            ticks = [p.ts for _, t0, _, d in self.rec.chunks(a, a + SLICE_MS, sid)
                     for p in self.rec.decode(sid, t0, d) or () if p.ts <= t]
            if ticks:
                return max(ticks)
        return self.start

    def _prelude(self, window_ms: int, at: float) -> tuple[list[Observation], dict]:
        """Each endpoint as it stood when the window opens (its last poll before; its last good one too if
        that failed: a panel keeps its last good values, dimmed, however old), the JSON bodies then in force,
        and the memos in force just before `at`."""
        rec, out = self.rec, []
        for sid, s in rec.streams.items():
            if s.kind == JSON:
                last = rec.last_entry(sid, window_ms, lambda p: p.payload_text is not None, payload=True)
                if last is not None:
                    self._payload[sid] = json.loads(last.payload_text)
        for sid, s in rec.streams.items():
            last = rec.last_entry(sid, window_ms, lambda p: True) if s.kind in (JSON, SCRAPE) else None
            if last is None:
                continue
            if last.error is not None:
                good = rec.last_entry(sid, window_ms, lambda p: p.error is None)
                if good is not None:
                    out.append(self._prelude_obs(sid, good))
            out.append(self._prelude_obs(sid, last))
        memos = {}
        for part in memo.PARTS:
            data = memo.last_before(rec, part, at)
            memos[part] = memo.EMPTY[part] if data is None else memo.read(part, data)
        if memo.last_before(rec, "transitions", at) is None:
            memos["transitions"] = memo.transitions_from(memos["alerts"])
        return out, memos

    def _prelude_obs(self, sid: int, p: Poll) -> Observation:
        s = self.rec.streams[sid]
        scraped: dict[tuple, list[Sample]] = defaultdict(list)
        if s.kind == SCRAPE and p.error is None:
            ms = round(p.ts * 1000)
            for i, t0, _, data in self.rec.chunks(minute_of(ms), minute_of(ms) + SLICE_MS):
                x = self.rec.streams.get(i)
                if x is None or x.kind != SERIES or (x.source, x.endpoint) != (s.source, s.endpoint):
                    continue
                dec = self.rec.decode(i, t0, data)
                for t, v in zip(*dec[:2]) if dec else ():
                    if t == ms:
                        scraped[(s.source, s.endpoint, t)].append(Sample(x.labels, v))
        return self._item(sid, Poll(p.ts, p.status, p.error, None), scraped)[3]

    # --- the timeline ---------------------------------------------------------------------

    def marks(self) -> list[tuple[float, str, dict]]:
        """Rule transitions, incident changes and actions (audit rows), oldest first."""
        return self.rec.events(kinds=MARK_KINDS)

    def jump_target(self, direction: int) -> float | None:
        """The previous (-1) or next (+1) incident or rule transition from the current position."""
        here = self.position if self.position is not None else self.start
        times = sorted({ts for ts, kind, _ in self.rec.events(kinds=("rule", "incident"))})
        if direction > 0:
            return next((t for t in times if t > here + 1e-6), None)
        return next((t for t in reversed(times) if t < here - 1e-6), None)

    def snapshot_at(self, when: float):
        self.seek(when)
        return self.state


def drive(gen):
    """Run a replay generator here, reading in this thread (the CLI, tests, benchmarks)."""
    result = None
    try:
        while True:
            result = gen.send(result)()
    except StopIteration as stop:
        return stop.value


async def drive_async(gen):
    """Run a replay generator on the event loop, its reads in a worker thread (the TUI)."""
    import asyncio

    result = None
    try:
        while True:
            result = await asyncio.to_thread(gen.send(result))
    except StopIteration as stop:
        return stop.value


def landing(t: float) -> float:
    """The instant a request for `t` lands on: the last instant of the whole second it names. Ticks carry the
    wall clock's milliseconds (10:42:20.004): `g 10:42:20` and a step of 10 s mean the tick shown as that second,
    not the one before it."""
    return math.floor(t + 1e-6) + 1 - 1e-6


def parse_instant(text: str, start: float, end: float, here: float | None = None) -> float:
    """`start`, `end`, an absolute RFC3339 time, HH:MM[:SS] (UTC, a day of the recording), or an offset:
    `-30s` / `+5m` from `here` (the current position) or, without one, -from the end / +from the start."""
    t = text.strip()
    if t in ("start", "end"):
        return start if t == "start" else end
    if t[:1] in "+-" and len(t) > 1:
        d = parse_duration(t[1:])
        base = here if here is not None else (end if t[0] == "-" else start)
        return base - d if t[0] == "-" else base + d
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", t)
    if m:
        h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
        if h > 23 or mi > 59 or s > 59:
            raise ValueError(f"not a time of day: {text!r}")
        day = datetime.fromtimestamp(start, tz=timezone.utc).replace(hour=h, minute=mi, second=s, microsecond=0)
        when = day.timestamp()
        while when < start - 1 and when + 86400 <= end + 1:
            when += 86400  # the first such time inside the recording
        return when
    try:
        return parse_iso(t)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use start, end, -30s, HH:MM[:SS] or 2026-11-22T03:14:00Z)") from None


def snapshot_cmd(args) -> int:
    """`opsconsole replay PATH --snapshot-at T --json`: the state at an instant, as `snapshot --json` prints it."""
    import sys

    replay = Replay(args.path)
    try:
        try:
            when = parse_instant(args.snapshot_at, replay.start, replay.end)
        except ValueError as e:
            raise RecordingError(f"--snapshot-at: {e}") from None
        if not replay.start - 1e-6 <= when <= replay.end + 1e-6:
            raise RecordingError(f"--snapshot-at {args.snapshot_at}: outside the recording "
                                 f"({utc_iso(replay.start)} to {utc_iso(replay.end)})")
        state = replay.snapshot_at(when)
        for what in replay.skipped:
            print(f"opsconsole: skipped unreadable data: {what}", file=sys.stderr)
    finally:
        replay.close()
    try:
        sys.stdout.write(json.dumps(state.to_json(), indent=2, default=str) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has seen enough
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit
    return 1 if state.firing else 0
