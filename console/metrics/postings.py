"""Inverted label index of one metric name (label → value → series ids), as Prometheus's TSDB head keeps it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class LabelMatcher(Protocol):
    """What the index needs of a matcher: its label and a test on a label set (PromQL's Matcher)."""

    name: str

    def matches(self, labels: dict[str, str], dot_all: bool = True) -> bool: ...


class Postings:
    """Series ids of one metric name by label and value; resolves matchers without a scan.

    A label that is absent and a label whose value is empty are the same thing (the store drops
    empty values), so a matcher that accepts "" also selects every series without that label:
    `{foo=""}`, `{foo!="x"}`, `{foo=~"|x"}` and `{foo!~"x"}` all match a series with no `foo`.
    """

    __slots__ = ("all", "_by_label", "_has")

    def __init__(self) -> None:
        self.all: set[int] = set()
        self._by_label: dict[str, dict[str, set[int]]] = {}
        self._has: dict[str, set[int]] = {}  # label → ids of series that carry it

    def __len__(self) -> int:
        return len(self.all)

    def add(self, sid: int, labels: dict[str, str]) -> None:
        self.all.add(sid)
        for k, v in labels.items():
            self._by_label.setdefault(k, {}).setdefault(v, set()).add(sid)
            self._has.setdefault(k, set()).add(sid)

    def remove(self, sid: int, labels: dict[str, str]) -> None:
        self.all.discard(sid)
        for k, v in labels.items():
            values = self._by_label[k]
            ids = values[v]
            ids.discard(sid)
            if not ids:
                del values[v]
            has = self._has[k]
            has.discard(sid)
            if not has:
                del self._by_label[k], self._has[k]

    def resolve(self, matchers: Iterable[LabelMatcher], dot_all: bool) -> set[int]:
        """Ids of the series every matcher accepts: the narrowest set first, then intersections."""
        sets = sorted((self._one(m, dot_all) for m in matchers), key=len)
        if not sets:
            return set(self.all)
        out = set(sets[0])
        for s in sets[1:]:
            if not out:
                break
            out &= s
        return out

    def _one(self, m: LabelMatcher, dot_all: bool) -> set[int]:
        values = self._by_label.get(m.name, {})
        empty_ok = m.matches({}, dot_all)
        # Each distinct value is tested once with the matcher's own test (so its regex engine).
        hit, miss = [], []
        for v, ids in values.items():
            (hit if m.matches({m.name: v}, dot_all) else miss).append(ids)
        if len(miss) < len(hit):  # {instance!="a"} over many instances: subtract the few misses
            out = set(self.all) if empty_ok else set(self._has.get(m.name, ()))
            for ids in miss:
                out -= ids
            return out
        out = set().union(*hit)
        if empty_ok:
            out |= self.all - self._has.get(m.name, set())
        return out
