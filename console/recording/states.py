"""The published states in a recording: what the screen showed at each tick, so a seek shows it without an engine.

The recorder keeps every published ConsoleState as the war room streams it (console/state_doc.py): the whole
document at the first tick of each five minutes, the diff from the previous tick otherwise, in the "states"
stream's chunks (one a minute, LZMA). A seek reads the newest whole document at or before its target and applies
the diffs after it (at most five minutes of them: a few milliseconds); playing forward applies the next diffs.
Either is what was published live, by construction. Anything that does not fit (a damaged chunk, a diff whose
base is not the document in hand, no state at the tick) is a StateError: the replay then goes through the engine.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from dataclasses import replace

from console import state_doc
from console.state import BackendState, ConsoleState

from .format import STATES, Recording, StateEntry, decode_states, minute_of

FULL_EVERY = 300.0  # seconds between whole documents: a seek applies at most this many ticks of diffs
FULL_MS = round(FULL_EVERY * 1000)
BACK = 3  # blocks looked back for a whole document (a file whose recording started mid-block has one anyway)


class StateError(Exception):
    """The recorded states cannot give the state asked for (said in one line; the engine gives it instead)."""


def stream(rec: Recording) -> int | None:
    """The states stream's id, or None (a recording made before states)."""
    return next((s.id for s in rec.streams.values() if s.kind == STATES), None)


def entries(rec: Recording, sid: int, a_ms: int, b_ms: int) -> list[StateEntry]:
    """The recorded states with a tick in [a_ms, b_ms), oldest first (whole minutes read, then cut)."""
    out: list[StateEntry] = []
    for _, t0, _, data in rec.chunks(minute_of(a_ms), b_ms, sid):
        try:
            got = decode_states(data, b_ms)
        except Exception as e:  # noqa: BLE001 - any damage: the engine shows it instead (said once, by the caller)
            raise StateError(f"a chunk is damaged ({type(e).__name__})") from None
        out += [e for e in got if a_ms <= round(e.ts * 1000) < b_ms]
    out.sort(key=lambda e: e.ts)
    return out


@contextmanager
def no_collection():
    """No garbage collection while a seek decodes: its ~100,000 short-lived objects (freed by reference counts when
    it ends) would otherwise start collections that promote them and then walk every object the process holds (a
    live console's, the replay's engine): measured 8 full collections in 40 seeks, the seeks' slowest 5 %."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def doc_at(rec: Recording, sid: int, at: float) -> dict:
    """The document published at tick `at`: the newest whole one at or before it, then every diff up to `at`."""
    with no_collection():
        return _doc_at(rec, sid, at)


def _doc_at(rec: Recording, sid: int, at: float) -> dict:
    at_ms = round(at * 1000)
    block = at_ms - at_ms % FULL_MS
    got: list[StateEntry] = []
    for back in range(BACK):
        got = entries(rec, sid, block - back * FULL_MS, at_ms + 1) if back == 0 else \
            entries(rec, sid, block - back * FULL_MS, block - (back - 1) * FULL_MS) + got
        full = [i for i, e in enumerate(got) if e.base is None]
        if full:
            got = got[full[-1]:]
            break
    else:
        raise StateError("no whole state recorded before it")
    doc = got[0].doc
    for e in got[1:]:
        doc = step(doc, e)
    if doc.get("ts") != at:
        raise StateError("no state was recorded at that tick")
    return doc


def step(doc: dict, e: StateEntry) -> dict:
    """The document after entry `e` (applied in place when it is a diff)."""
    if e.base is None:
        return e.doc
    if doc.get("ts") != e.base:
        raise StateError("a state is missing (a diff does not follow the one before)")
    try:
        return state_doc.apply(doc, e.doc)
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise StateError(f"a state diff does not apply: {err}") from None


def to_state(doc: dict, mode: str, backend: BackendState | None) -> ConsoleState:
    """The ConsoleState a replay shows for a recorded document: its own copy (the document moves on), in the
    replay's mode, with the metrics backend as a replay states it (the server's recorded answers)."""
    state = state_doc.from_doc(json.loads(state_doc.dumps(doc)))
    state = replace(state, mode=mode, viewers=None, link=None)
    if state.backend is not None and backend is not None:  # as answers.RecordedAnswers.apply puts it
        live = state.backend
        state.backend = BackendState(url=live.url or backend.url, status="recorded",
                                     error=None if live.status == "ok" else f"the server was {live.status} then",
                                     version=live.version, remote=live.remote, local=live.local, mixed=live.mixed)
    return state
