"""Values of subexpressions at one instant of one unchanged store, shared by every rule and panel in a tick."""

from __future__ import annotations


class TickMemo:
    """A memo valid while (store, its version, instant, dialect) stay the same; any change starts it afresh.

    Rules and panels repeat subexpressions (`rate(x{job="a"}[5m])` under a `sum`, a ratio and a
    threshold), so a tick computes each once. Values are shared, hence never mutated by readers.
    """

    __slots__ = ("_key", "_values")

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._values: dict = {}

    def values(self, store, t_ms: int, dialect: str) -> dict | None:
        version = getattr(store, "version", None)
        if version is None:  # a store view that cannot tell when it changed is never memoized
            return None
        key = (id(store), version, t_ms, dialect)
        if key != self._key:
            self._key, self._values = key, {}
        return self._values
