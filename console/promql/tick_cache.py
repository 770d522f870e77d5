"""Values of subexpressions at one instant of one unchanged store, shared by every rule and panel in a tick."""

from __future__ import annotations

# Hashing a frozen tree walks all of it, on every lookup; so each node object is mapped, once, to
# the first equal node seen (its canonical), and the memo is keyed by the canonical's identity.
# Entries hold the nodes themselves, so an id is never reused while it is a key here.
_CANON_LIMIT = 50_000
_canon: dict[int, tuple[object, object]] = {}  # id(node) → (node, canonical)
_by_value: dict[object, object] = {}  # node → canonical


# A console evaluates every rule and panel expression of every service each tick: 2,360 distinct
# texts at 200 services, past the parser's own LRU (1,024), which then re-parsed them all every
# tick and made new trees each time. Compiled trees are kept here by text, with a generous bound.
_COMPILED_LIMIT = 100_000
_compiled: dict[str, object] = {}


def compiled(expr: str, compile_expr) -> object:
    """`compile_expr(expr)`, once per text (errors are not cached: they raise every time)."""
    node = _compiled.get(expr)
    if node is None:
        node = compile_expr(expr)
        if len(_compiled) >= _COMPILED_LIMIT:
            _compiled.clear()
        _compiled[expr] = node
    return node


def canonical(node: object) -> object:
    """The one object standing for every node equal to `node` (same subtree, same expression)."""
    hit = _canon.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    if len(_canon) >= _CANON_LIMIT:  # ad-hoc queries must not grow it without bound
        _canon.clear()
        _by_value.clear()
    canon = _by_value.setdefault(node, node)
    _canon[id(node)] = (node, canon)
    return canon


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
        """The memo's table for this evaluation: id(canonical node) → (canonical node, value)."""
        version = getattr(store, "version", None)
        if version is None:  # a store view that cannot tell when it changed is never memoized
            return None
        key = (id(store), version, t_ms, dialect)
        if key != self._key:
            self._key, self._values = key, {}
        return self._values
