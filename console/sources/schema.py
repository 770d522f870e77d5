"""Declarative, tolerant JSON readers: each field's type, where it goes, and the gauge it feeds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from console.clock import parse_iso
from console.model import Sample


@dataclass
class Reading:
    data: dict  # the normalized payload: known fields, missing ones None ("unknown"), extras dropped
    gauges: list[Sample]  # derived gauge samples (labels incl. __name__, job, instance)


Gauge = tuple[dict[str, str], float]  # extra labels, value


@dataclass(frozen=True)
class Field:
    """One known field at a dotted path; `check` types it, `values` turns it into gauge values."""

    path: str
    expected: str  # for the error: "expected a number"
    check: Callable[[Any], bool]
    gauge: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    values: Callable[[Any], list[Gauge]] = lambda v: [({}, float(v))]
    rows: "Schema | None" = None  # for a list of objects: how to read each one


def _is_num(v: Any) -> bool:
    """A number the console can compute with: NaN, ±Infinity and ints past float's range are not."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _is_time(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        parse_iso(v)
    except ValueError:
        return False
    return True


def num(path: str, gauge: str | None = None, **labels: str) -> Field:
    return Field(path, "a number", _is_num, gauge, labels)


def boolean(path: str, gauge: str | None = None, **labels: str) -> Field:
    return Field(path, "true or false", lambda v: isinstance(v, bool), gauge, labels)


def text(path: str) -> Field:
    return Field(path, "a string", lambda v: isinstance(v, str))


def ident(path: str) -> Field:
    return Field(path, "a string or an integer",
                 lambda v: isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)))


def when(path: str) -> Field:
    return Field(path, "an RFC3339 time", _is_time)


def strings(path: str, gauge: str | None = None, **labels: str) -> Field:
    """A list of strings; its gauge is the list's length."""
    return Field(path, "a list of strings", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                 gauge, labels, lambda v: [({}, float(len(v)))])


def counts(path: str) -> Field:
    """An object of name → number, e.g. events_by_type."""
    return Field(path, "an object of numbers", lambda v: isinstance(v, dict) and all(_is_num(x) for x in v.values()))


def equals(path: str, target: str, gauge: str, **labels: str) -> Field:
    """A string whose gauge is 1 when it equals `target` ("ok", "ready"), else 0."""
    return Field(path, "a string", lambda v: isinstance(v, str), gauge, labels,
                 lambda v: [({}, float(v == target))])


def one_of(path: str, choices: tuple[str, ...], gauge: str | None = None, label: str = "") -> Field:
    """An enumeration; its gauge is one-hot: one sample per choice, 1 for the current one."""
    return Field(path, "one of " + ", ".join(choices), lambda v: v in choices, gauge, {},
                 lambda v: [({label: c}, float(v == c)) for c in choices])


def rows(path: str, schema: "Schema", gauge: str | None = None) -> Field:
    """A list of objects, each read with `schema`; its gauge is the number of rows."""
    return Field(path, "a list of objects", lambda v: isinstance(v, list), gauge, {},
                 lambda v: [({}, float(len(v)))], rows=schema)


def per_row(path: str, gauge: str, label: str, name_key: str, value_key: str):
    """An `extra` for Schema: one gauge per row of a list, labelled by one of its fields."""

    def gauges(data: dict) -> list[tuple[str, dict, float]]:
        return [(gauge, {label: str(r[name_key])}, float(r[value_key])) for r in data[path] or []
                if r[name_key] is not None and r[value_key] is not None]

    return gauges


class Schema:
    """The known fields of one endpoint's JSON body."""

    def __init__(self, *fields: Field, extra: Callable[[dict], list[tuple[str, dict, float]]] | None = None):
        self.fields = fields
        self.extra = extra  # gauges computed from the normalized data as a whole

    def read(self, endpoint: str, payload: Any, job: str, instance: str) -> Reading:
        data, gauges = self.normalize(payload, endpoint, "")
        if self.extra:
            gauges += self.extra(data)
        target = {"job": job, "instance": instance}
        samples = [Sample({"__name__": name, **labels, **target}, value) for name, labels, value in gauges]
        return Reading(data, samples)

    def normalize(self, obj: Any, endpoint: str, where: str) -> tuple[dict, list[tuple[str, dict, float]]]:
        """Known fields of `obj` (None when missing), their gauges; ValueError on a wrong type."""
        if not isinstance(obj, dict):
            raise ValueError(f"{endpoint}: {where.rstrip('.') or 'body'} is {_describe(obj)}, expected an object")
        data: dict = {}
        gauges: list[tuple[str, dict, float]] = []
        for f in self.fields:
            value = _get(obj, f.path, endpoint, where)
            if value is not None and not f.check(value):
                raise ValueError(f"{endpoint}: {where}{f.path} is {_describe(value)}, expected {f.expected}")
            if value is not None and f.rows is not None:
                value = [f.rows.normalize(row, endpoint, f"{where}{f.path}[{i}].")[0] for i, row in enumerate(value)]
            _put(data, f.path, value)
            if value is not None and f.gauge:
                gauges += [(f.gauge, {**f.labels, **labels}, v) for labels, v in f.values(value)]
        return data, gauges


def _get(obj: dict, path: str, endpoint: str, where: str) -> Any:
    node: Any = obj
    parts = path.split(".")
    for i, part in enumerate(parts):
        if node is None:
            return None
        if not isinstance(node, dict):
            parent = ".".join(parts[:i])
            raise ValueError(f"{endpoint}: {where}{parent} is {_describe(node)}, expected an object")
        node = node.get(part)
    return node


def _put(data: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _describe(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 1023:
        return f"a {len(str(abs(value)))}-digit number (too large)"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
