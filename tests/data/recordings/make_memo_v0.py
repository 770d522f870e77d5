"""How memo-v0.opsrec.gz and memo-v0.replayed.json.gz were made: run on commit d28c471 (the memo format that
stored private fields), from the repository root: `python tests/data/recordings/make_memo_v0.py OUT_DIR`.

The recording: the demo's error-spike scenario on the virtual clock (HighErrorRate fires, an incident opens and
is acknowledged, two mitigations run, then the fleet recovers). The JSON: what that commit's replay showed at a
few ticks (seeking there) — the oracle for tests/test_memento.py, which reads the file with today's code.
"""
import asyncio
import gzip
import json
import os
import shutil
import sqlite3
import sys
import tempfile

sys.path[:0] = ["tests", "."]
from conftest import start_watch  # noqa: E402
from console.mitigations.catalog import load_actions  # noqa: E402
from console.mitigations.executor import Executor  # noqa: E402
from console.recording.replay import Replay  # noqa: E402
from console.recording.writer import Recorder  # noqa: E402

TICK = 15.0


def published(state) -> dict:
    doc = json.loads(json.dumps(state.to_json(), default=str))
    doc.pop("mode")
    return doc


async def record(path: str) -> list[float]:
    os.environ["OPSCONSOLE_DATA_DIR"] = tempfile.mkdtemp()
    w = await start_watch("error-spike", tick=TICK, metrics_interval=TICK)
    live: dict[float, dict] = {}
    try:
        rec = await Recorder(w.engine, path).start()
        w.engine.reset()
        ex = Executor(w.engine, load_actions(w.engine.cfg))
        await ex.start()
        w.engine.listeners.append(lambda st: live.__setitem__(st.ts, published(st)))
        await w.run_for(8 * 60)
        inc = next(i for i in w.engine.incidents.incidents.values() if i.rule == "HighErrorRate")
        await w.engine.incidents.acknowledge(inc.id, "looking", who="alice")
        await ex.execute(ex.plan("path_tracker.advance"))  # a stage change: the figures memo moves
        await ex.execute(ex.plan("converge.intake_pause"))
        await w.run_for(4 * 60)
        w.fleet.set_scenario("normal")
        await w.run_for(10 * 60)
        await ex.stop()
        await rec.stop()
        assert rec.error is None
    finally:
        await w.engine.stop()
        await w.demo.stop()
    ticks = sorted(live)
    firing = next(t for t in ticks if any(r["name"] == "HighErrorRate" and r["state"] == "firing"
                                          for r in live[t]["rules"]))
    acked = next(t for t in ticks if any(i["state"] == "acknowledged" for i in live[t]["incidents"]))
    return sorted({ticks[-1], firing, firing + TICK, acked, acked + 2 * TICK, ticks[len(ticks) // 2], ticks[-5]})


def main(out: str) -> None:
    tmp = os.path.join(tempfile.mkdtemp(), "memo-v0.opsrec")
    keep = asyncio.run(record(tmp))
    conn = sqlite3.connect(tmp)
    conn.execute("VACUUM")
    conn.close()
    replay, shown = Replay(tmp), {}
    for t in keep:
        replay.seek(t)
        shown[str(t)] = published(replay.engine.state)
    replay.close()
    with open(tmp, "rb") as f, gzip.open(os.path.join(out, "memo-v0.opsrec.gz"), "wb", 9) as g:
        shutil.copyfileobj(f, g)
    with gzip.open(os.path.join(out, "memo-v0.replayed.json.gz"), "wt") as g:
        json.dump(shown, g, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
