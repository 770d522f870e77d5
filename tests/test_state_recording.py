"""The recorded states are the published ones: the writer takes a state as text by part and re-reads only the
parts that changed, yet every document a seek rebuilds is the state as published, scrubbed of every secret, also
when a secret shows up in a part that did not change before, or the secrets rotate."""

from __future__ import annotations

import copy
import json

from console import state_doc
from console.recording import states
from console.recording.format import STATES, decode_states
from console.recording.writer import ChunkWriter, scrub


def _doc(ts: float, rate: float, body: dict, error: str | None = None) -> dict:
    return {"ts": ts, "engine_error": error, "rules": [{"name": "r", "state": "ok"}],
            "services": {"pulse": {"kind": "conversion", "figures": {"rate": rate},
                                   "endpoints": {"health": {"key": "health", "data": body, "last_ok": ts},
                                                 "config": {"key": "config", "data": {"n": 1}, "last_ok": 0.0}}},
                         "converge": {"kind": "converge", "figures": {"debt": 14, "owner": "ops-s3cr3t"},
                                      "endpoints": {"metrics": {"key": "metrics", "data": {"samples": 3}}}}}}


def _recorded(writer: ChunkWriter, docs: list[dict], secrets_at: dict[int, list[str]]) -> list[dict]:
    """What a seek rebuilds at each tick, after `writer` recorded `docs` (its secrets changed at the given ticks)."""
    entries = []
    for i, doc in enumerate(docs):
        writer.secrets = secrets_at.get(i, writer.secrets)
        plan = writer.encode([("state", doc["ts"], state_doc.dumps_parts(doc))], seal_all=True)
        sid = writer.ids[(STATES, "", "state", None)]
        entries += [e for chunk in plan["chunks"] if chunk[1] == sid for e in decode_states(chunk[5])]
    out, current = [], None
    for e in entries:
        current = states.step(copy.deepcopy(current), e)
        out.append(copy.deepcopy(current))
    return out


def test_every_recorded_state_is_the_published_one_scrubbed():
    docs = [_doc(100.0 + i, 0.5 + (i % 3) / 10, {"ok": True, "n": i // 4}) for i in range(12)]
    docs[5]["services"]["pulse"]["endpoints"]["config"]["data"] = {"note": "token=hunter2"}  # a secret, unchanged part
    docs[6]["services"]["converge"]["endpoints"]["metrics"]["data"] = {"hunter2": 1}  # in a key
    docs[8]["engine_error"] = "poll: bad key s3cr3t"  # only a secret after the rotation at tick 8
    docs[9]["services"]["pulse"]["endpoints"]["config"]["data"] = {"note": "token=s3cr3t"}
    secrets_at = {0: ["hunter2"], 8: ["s3cr3t", "hunter2"]}
    writer = ChunkWriter({}, [])
    got = _recorded(writer, docs, secrets_at)
    assert len(got) == len(docs)
    for i, (doc, seen) in enumerate(zip(docs, got)):
        secrets = secrets_at[8] if i >= 8 else secrets_at[0]
        assert seen == scrub(state_doc.normalized(doc), secrets), f"tick {i}"
        text = json.dumps(seen)
        assert not any(s in text for s in secrets)
    assert got[5]["services"]["pulse"]["endpoints"]["config"]["data"] == {"note": "token=***"}
    assert got[6]["services"]["converge"]["endpoints"]["metrics"]["data"] == {"***": 1}
    assert got[8]["engine_error"] == "poll: bad key ***"
    # a part that did not change, holding a value that became a secret at the rotation: scrubbed from then on
    assert got[7]["services"]["converge"]["figures"]["owner"] == "ops-s3cr3t"
    assert got[8]["services"]["converge"]["figures"]["owner"] == "ops-***"


def test_a_state_is_stored_as_the_diff_of_what_changed():
    docs = [_doc(200.0, 0.5, {"ok": True}), _doc(201.0, 0.7, {"ok": True}), _doc(202.0, 0.7, {"ok": True})]
    writer = ChunkWriter({}, [])
    plans = [writer.encode([("state", d["ts"], state_doc.dumps_parts(d))]) for d in docs]
    heads = [decode_states(p["head"][-1][5]) for p in plans]
    assert heads[0][0].base is None  # the first whole
    assert heads[1][0].base == 200.0 and heads[1][0].doc == state_doc.diff(
        state_doc.normalized(docs[0]), state_doc.normalized(docs[1]))
    # the rate moved, and the health endpoint's last_ok: nothing else is in the diff
    assert set(heads[1][0].doc) == {"ts", "services"}
    assert set(heads[1][0].doc["services"][1]) == {"pulse"}
    assert set(heads[2][0].doc["services"][1]["pulse"][1]) == {"endpoints"}  # the rate stayed


def test_an_endpoint_is_serialized_again_only_when_its_state_was_replaced():
    from console.state import ConsoleState, EndpointState, ServiceState

    ep = EndpointState("health", data={"ok": True}, last_ok=1.0, last_poll=1.0)
    state = ConsoleState(ts=1.0, environment="t", read_only=False, mode="live",
                         services={"pulse": ServiceState("pulse", "conversion", "Pulse", {"health": ep})})
    texts: dict = {}
    first = state_doc.dumps_parts(state_doc.to_doc(state), texts=texts)
    state.ts = 2.0
    again = state_doc.dumps_parts(state_doc.to_doc(state), texts=texts)
    assert again["services"]["pulse"]["endpoints"]["health"] is first["services"]["pulse"]["endpoints"]["health"]
    ep.data, ep.last_poll = {"ok": False}, 2.0  # a new reading: new objects
    moved = state_doc.dumps_parts(state_doc.to_doc(state), texts=texts)
    assert json.loads(moved["services"]["pulse"]["endpoints"]["health"])["data"] == {"ok": False}
    assert moved == state_doc.dumps_parts(state_doc.to_doc(state))  # the same texts as without the memory
