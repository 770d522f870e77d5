"""The Prometheus backend's answers in a recording: what the server said at each tick, so replay shows what was shown.

With `[prometheus]` the console does not scrape /metrics: rule values and panel figures are the server's
answers, which no sample chunk holds. The recorder keeps the answers the engine used at each tick (event
"answers:full" with a keyframe, "answers:delta" with only what changed in between) and each panel's query
error; a replay answers the same expressions from them and says in its header that they came from the server.
"""

from __future__ import annotations

import json
from typing import Any

from console import promql
from console.state import BackendState, EndpointState

from .format import Recording

FULL, DELTA = "answers:full", "answers:delta"
ENDPOINT = "prometheus"  # the endpoint the live backend puts on each service (its panel queries' state)


class AnswerLog:
    """On the recording side: this tick's answers as a full map or as what changed since the last tick."""

    def __init__(self) -> None:
        self.last: dict[str, str] = {}
        self.panels: dict[str, Any] = {}

    def take(self, backend, state, full: bool) -> tuple[str, dict] | None:
        now = {e: json.dumps(a, sort_keys=True) for e, a in backend.answered.items()}
        panels = {name: svc.endpoints[ENDPOINT].error for name, svc in state.services.items()
                  if ENDPOINT in svc.endpoints}
        b = backend.state
        meta = {"v": 1, "status": b.status, "version": b.version, "url": b.url,
                "counts": [b.remote, b.local, b.mixed], "panels": panels}
        if full or not self.last:
            self.last, self.panels = now, panels
            return FULL, {**meta, "answers": {e: json.loads(t) for e, t in now.items()}}
        changed = {e: json.loads(t) for e, t in now.items() if self.last.get(e) != t}
        gone = [e for e in self.last if e not in now]
        if not changed and not gone and panels == self.panels:
            return None
        self.last, self.panels = now, panels
        return DELTA, {**meta, "answers": changed, "gone": gone}


def recorded(rec: Recording) -> bool:
    try:
        return rec.conn.execute("SELECT 1 FROM events WHERE kind = ? LIMIT 1", (FULL,)).fetchone() is not None
    except Exception:  # noqa: BLE001 - a damaged events table: no answers
        return False


def at(rec: Recording, when: float) -> list[dict]:
    """The documents that make the answers in force at `when`: the newest full map, then the deltas after it."""
    rows = rec.conn.execute("SELECT ts FROM events WHERE kind = ? AND ts <= ? ORDER BY ts DESC LIMIT 1",
                            (FULL, when)).fetchone()
    if rows is None:
        return []
    return [d for _, _, d in rec.events(rows[0], when, (FULL, DELTA))]


class RecordedAnswers:
    """The replay's metrics backend: the recorded answers for the expressions the server answered, the local
    store (the JSON endpoints' gauges) for the rest. Plots fall back to the local store (None from `range`)."""

    scraping = False

    def __init__(self, cfg, store) -> None:
        self.cfg, self.store = cfg, store
        self.answers: dict[str, Any] = {}
        self.at: float | None = None  # the tick the answers are for: the server was asked only then
        self.panels: dict[str, Any] = {}
        self.state = BackendState(url=cfg.prometheus.url if cfg.prometheus else "", status="recorded")

    def apply(self, doc: dict) -> None:
        if "gone" not in doc:  # a full map
            self.answers = {}
        for e in doc.get("gone", ()):
            self.answers.pop(e, None)
        self.answers.update(doc["answers"])
        self.panels = doc.get("panels", {})
        self.state.version = doc.get("version")
        self.state.url = doc.get("url") or self.state.url
        self.state.remote, self.state.local, self.state.mixed = doc.get("counts", [0, 0, 0])
        self.state.error = None if doc.get("status") == "ok" else f"the server was {doc.get('status')} then"

    def query(self, expr: str, at: float) -> list[tuple[dict, float]]:
        answer = self.answers.get(expr)
        if answer is None:
            return promql.evaluate(expr, self.store, at, semantics=self.cfg.promql_semantics)
        if at != self.at:  # as live: another instant was never asked of the server at this tick
            raise RecordedError("asked of Prometheus from the next tick on")
        if isinstance(answer, dict):
            raise RecordedError(answer.get("error", "error"))
        return [(labels, value) for labels, value in answer]

    def annotate(self, state, at: float) -> None:
        state.backend = self.state
        for name, error in self.panels.items():
            svc = state.services.get(name)
            if svc is None:
                continue
            ep = svc.endpoints.setdefault(ENDPOINT, EndpointState(ENDPOINT))
            ep.last_poll, ep.error = at, error
            if error is None:
                ep.last_ok = at

    async def range(self, expr: str, start: float, end: float, step: float) -> None:
        return None

    async def close(self) -> None:
        return None


class RecordedError(Exception):
    """A query the server could not answer then, as the live console said it."""
