"""ConsoleState ↔ plain JSON documents and their diffs: what the war room streams and what a recording keeps."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from typing import Any, Callable

from console.incidents.model import Entry, Incident
from console.state import ActionRecord, BackendState, ConsoleState, EndpointState, RuleState, ServiceState, SharingState

_ENDPOINT_FIELDS = tuple(f.name for f in fields(EndpointState))


def to_doc(state: ConsoleState) -> dict[str, Any]:
    """Everything the screens read from a state, as plain data (the live display's rewind stays with its console).

    It shares the state's figures and endpoint payloads instead of copying them (`asdict`'s deep copy of every
    endpoint's last reading was most of a published state's cost on the loop): serialize it before the state
    moves on, as every caller does."""
    return {
        "ts": state.ts, "environment": state.environment, "read_only": state.read_only, "mode": state.mode,
        "scenario": state.scenario, "engine_error": state.engine_error, "engine_error_at": state.engine_error_at,
        "viewers": state.viewers, "link": state.link,
        "services": {name: {"kind": s.kind, "title": s.title, "figures": s.figures,
                            "endpoints": {k: {f: getattr(e, f) for f in _ENDPOINT_FIELDS}
                                          for k, e in s.endpoints.items()}}
                     for name, s in state.services.items()},
        "rules": [asdict(r) for r in state.rules],
        "trends": {k: [list(p) for p in v] for k, v in state.trends.items()},
        "actions": [asdict(a) for a in state.actions],
        "backend": asdict(state.backend) if state.backend else None,
        "incidents": [asdict(i) for i in state.incidents],
        "sharing": asdict(state.sharing) if state.sharing else None,
        "stale_acks": list(state.stale_acks),
    }


def from_doc(doc: dict[str, Any]) -> ConsoleState:
    """The ConsoleState a document describes, with real `Incident` objects (widgets call their methods)."""
    services = {}
    for name, s in doc["services"].items():
        endpoints = {k: EndpointState(**_known(EndpointState, e)) for k, e in s["endpoints"].items()}
        services[name] = ServiceState(name, s["kind"], s["title"], endpoints, s["figures"])
    incidents = []
    for d in doc["incidents"]:
        timeline = [Entry(**_known(Entry, e)) for e in d["timeline"]]
        incidents.append(Incident(**{**_known(Incident, d), "timeline": timeline}))
    return ConsoleState(
        ts=doc["ts"], environment=doc["environment"], read_only=doc["read_only"], mode=doc["mode"],
        services=services, rules=[RuleState(**_known(RuleState, r)) for r in doc["rules"]],
        trends={k: [(p[0], p[1]) for p in v] for k, v in doc["trends"].items()}, scenario=doc["scenario"],
        actions=[ActionRecord(**_known(ActionRecord, a)) for a in doc["actions"]],
        backend=BackendState(**_known(BackendState, doc["backend"])) if doc["backend"] else None,
        incidents=incidents, engine_error=doc["engine_error"], engine_error_at=doc["engine_error_at"],
        sharing=SharingState(**_known(SharingState, doc["sharing"])) if doc["sharing"] else None,
        stale_acks=list(doc["stale_acks"]), viewers=doc.get("viewers"), link=doc.get("link"))


def _known(cls, d: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


# where a state is cut into separately written parts: each service, and each of its endpoints (their last readings
# are most of a state, and few change at a tick). KEPT marks parts whose values are the state's own objects, which
# are replaced, never changed in place (an EndpointState's fields): the same objects are the same text.
KEPT = "kept"
SPLIT: dict = {"services": {"*": {"endpoints": {"*": KEPT}}}}


def dumps_parts(doc: dict[str, Any], split: dict = SPLIT, texts: dict | None = None) -> dict[str, Any]:
    """`doc` as JSON text by part (a dict where SPLIT cuts it, a text elsewhere). A part whose text did not change
    since the last state is that part unchanged (`same`), found without parsing it. With `texts` (the caller's, kept
    from one state to the next), a KEPT part holding the very objects it held last time is not serialized again."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        sub = split.get(k, split.get("*"))
        if sub is KEPT and texts is not None and type(v) is dict:
            out[k] = _kept_text(texts, k, v)
        elif sub is not None and sub is not KEPT and type(v) is dict:
            out[k] = dumps_parts(v, sub, None if texts is None else texts.setdefault(k, {}))
        else:
            out[k] = dumps(v)
    return out


def _kept_text(texts: dict, key: str, part: dict) -> str:
    values = tuple(part.values())
    hit = texts.get(key)
    if hit is not None and len(hit[0]) == len(values) and all(a is b for a, b in zip(hit[0], values)):
        return hit[1]  # the values are held in `texts`, so no id here is another object's
    text = dumps(part)
    texts[key] = (values, text)
    return text


class Differ:
    """Successive documents from their parts' texts (`dumps_parts`), each the diff's base for the next: a part whose
    text is the previous one's is the previous document's object, neither parsed again nor walked by `diff`.

    One mechanism for the recorder (console/recording/writer.py) and the war room's collector (console/remote/):
    most of a state is unchanged from one tick to the next. `fix(text, value)` may rewrite a parsed part (the
    recorder scrubs secrets); `forget()` when what it does changes. The documents it gives are never changed in
    place by anyone (the next one shares their parts)."""

    def __init__(self, fix: Callable[[str, Any], Any] | None = None) -> None:
        self.fix = fix
        self.doc: dict[str, Any] | None = None
        self._texts: dict[str, Any] = {}

    def forget(self) -> None:
        """Parse every part of the next document again (its kept parts were fixed by other rules)."""
        self._texts = {}

    def take(self, parts: dict[str, Any]) -> dict[str, Any]:
        """The document `parts` describe; it becomes the base of the next."""
        self.doc = self._joined(parts, self.doc or {}, self._texts)
        self._texts = parts
        return self.doc

    def _joined(self, parts: dict, was: dict, texts: dict) -> dict:
        doc: dict = {}
        unchanged = was.keys() == parts.keys()
        for k, v in parts.items():
            old = was.get(k, _NONE)
            if type(v) is dict:
                doc[k] = self._joined(v, old if type(old) is dict else {},
                                      texts.get(k) if type(texts.get(k)) is dict else {})
            elif old is not _NONE and texts.get(k) == v:
                doc[k] = old
            else:
                doc[k] = json.loads(v) if self.fix is None else self.fix(v, json.loads(v))
            unchanged = unchanged and doc[k] is old
        return was if unchanged else doc


_NONE = object()


def dumps(message: dict[str, Any]) -> str:
    """One line of JSON (NaN and ±Inf as Python's json writes them: both ends are this module)."""
    return json.dumps(message, separators=(",", ":"), default=_plain)


def loads(text: str | bytes) -> Any:
    return json.loads(text)


def _plain(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not plain data")


def normalized(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as a viewer receives it (tuples become lists): what diffs are computed between."""
    return json.loads(dumps(doc))


# --- diff: a patch is {key: op}; op = ["=", value] | ["-"] | ["~", patch] (a dict) | ["@", {index: op}] (a list
# of the same length) | ["<", dropped, appended] (a list that slid: dropped from the front, appended at the end)


def same(a: Any, b: Any) -> bool:
    """Equal as a viewer would render them (NaN equals NaN: a figure that stays NaN is no change)."""
    if type(a) is not type(b):
        return a == b and type(a) in (int, float) and type(b) in (int, float)
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What turns `old` into `new`; {} when nothing changed."""
    patch: dict[str, Any] = {}
    for k, v in new.items():
        if k not in old:
            patch[k] = ["=", v]
            continue
        was = old[k]
        if was is v:  # the recorder hands the unchanged parts of a state over as the previous one's objects
            continue
        if type(was) is dict and type(v) is dict:  # straight into the sub-diff ({} is "same"): comparing first
            sub = diff(was, v)  # walked each subtree once per level above it (most of a recorder's tick)
            if sub:
                patch[k] = ["~", sub]
        elif not same(was, v):
            patch[k] = _op(was, v)
    for k in old:
        if k not in new:
            patch[k] = ["-"]
    return patch


def _op(old: Any, new: Any) -> list:
    if isinstance(old, dict) and isinstance(new, dict):
        return ["~", diff(old, new)]
    if isinstance(old, list) and isinstance(new, list):
        return _list_op(old, new)
    return ["=", new]


def _list_op(old: list, new: list) -> list:
    """Rows changed in place (an incident's value) as their own patches; a sliding window (a trend, a timeline that
    grows) as what fell off the front and what was added; anything else whole."""
    if len(old) == len(new):
        changed = {str(i): _op(x, y) for i, (x, y) in enumerate(zip(old, new)) if not same(x, y)}
        if len(changed) <= len(new) // 2 + 1:
            return ["@", changed]
    for dropped in range(0, min(len(old), 8) + 1):
        kept = len(old) - dropped
        if kept <= len(new) and all(same(x, y) for x, y in zip(old[dropped:], new[:kept])):
            if dropped == 0 and kept == 0:
                break
            return ["<", dropped, new[kept:]]
    return ["=", new]


def apply(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`doc` changed by `patch` in place (and returned); a malformed patch raises ValueError."""
    if not isinstance(doc, dict) or not isinstance(patch, dict):
        raise ValueError("patch does not fit the document")
    for k, op in patch.items():
        if not isinstance(op, list) or not op:
            raise ValueError(f"bad patch operation at {k!r}")
        kind = op[0]
        if kind == "=" and len(op) == 2:
            doc[k] = op[1]
        elif kind == "-":
            doc.pop(k, None)
        elif kind == "~" and len(op) == 2:
            apply(doc[k], op[1]) if k in doc else _missing(k)
        elif kind == "@" and len(op) == 2 and isinstance(doc.get(k), list) and isinstance(op[1], dict):
            rows = doc[k]
            as_dict = {str(i): row for i, row in enumerate(rows)}
            apply(as_dict, op[1])
            if len(as_dict) != len(rows):
                raise ValueError(f"bad patch operation at {k!r}")
            doc[k] = [as_dict[str(i)] for i in range(len(rows))]
        elif kind == "<" and len(op) == 3 and isinstance(doc.get(k), list) and isinstance(op[1], int):
            doc[k] = doc[k][op[1]:] + list(op[2])
        else:
            raise ValueError(f"bad patch operation at {k!r}")
    return doc


def _missing(key: str) -> None:
    raise ValueError(f"patch changes {key!r}, which the document does not hold")
