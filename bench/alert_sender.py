"""Benchmark: what [alertmanager] send adds to a tick (the sender's work on each published state); prints JSON.

The reference, in the same run: computing the same alerts' label sets and incident ids alone (what any
sharing console must do), so the figure reads as "the sender's bookkeeping on top of the unavoidable".
Nothing is posted (no drain task): this is the tick-side cost only, which must stay small."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.clock import VirtualClock  # noqa: E402
from console.config.schema import parse_config  # noqa: E402
from console.events import Hub, StatePublished  # noqa: E402
from console.incidents.sender import AlertSender  # noqa: E402
from console.incidents.shared import alert_labels, incident_id  # noqa: E402
from console.state import ConsoleState, RuleState  # noqa: E402

T0 = 1_790_000_000.0


def rules(n: int) -> list[RuleState]:
    return [RuleState(name=f"Rule{i % 50}", service=f"svc{i % 20}", severity="P2", state="firing", value=1.0,
                      labels={"job": f"svc{i % 20}", "instance": f"10.0.{i // 250}.{i % 250}:9100", "shard": str(i)},
                      active_since=T0, fired_at=T0, runbook="004_3b25d9bb95b182cc.txt#High Error Rate",
                      summary="x", expr="x", for_=0.0) for i in range(n)]


def run(n: int, ticks: int = 60) -> dict:
    cfg = parse_config({"tick": "1s", "alertmanager": {"send": True, "urls": ["http://127.0.0.1:9"],
                                                       "queue": 10 * n * ticks}}, "<bench>")
    hub = Hub()
    sender = AlertSender(hub, VirtualClock(T0), cfg, http=lambda: None)
    rs = rules(n)
    send, ref = [], []
    for t in range(ticks):
        state = ConsoleState(ts=T0 + t, environment="bench", read_only=False, mode="live", rules=rs)
        start = time.perf_counter()
        hub.publish(StatePublished(state))
        send.append(time.perf_counter() - start)
        start = time.perf_counter()
        {incident_id(alert_labels(r)) for r in rs}
        ref.append(time.perf_counter() - start)
    queued = len(sender.queue)  # each alert once (first tick) and again after each resend (60 s)
    sender.queue.clear()
    return {"alerts": n, "ticks": ticks, "sender_ms_median": round(statistics.median(send) * 1e3, 3),
            "sender_ms_max": round(max(send) * 1e3, 3),
            "reference_ids_ms_median": round(statistics.median(ref) * 1e3, 3), "queued": queued}


if __name__ == "__main__":
    print(json.dumps({"bench": "alert_sender", "results": [run(n) for n in (10, 100, 1000)]}, indent=2))
