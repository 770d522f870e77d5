"""Label-matcher regexes compiled by RE2 (Go's regexp syntax), anchored as Prometheus anchors them."""

from __future__ import annotations

import re2

from .errors import UnsupportedQuery

# A rule re-tests the same few label values every tick; RE2's binding costs ~3 µs a call
# (UTF-8 conversion), so answers are remembered per value, up to this many.
_CACHE_LIMIT = 4096
_UNSEEN = object()


def _options(dot_all: bool) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to stderr
    options.dot_nl = dot_all
    return options


def compile_regex(pattern: str, dot_all: bool = True, shown: str | None = None):
    """RE2 program for `pattern` as given; UnsupportedQuery naming `shown` (what the user
    wrote) if RE2 rejects it."""
    try:
        return re2.compile(pattern, _options(dot_all))
    except re2.error as e:
        detail = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
        raise UnsupportedQuery("PromQL parse error: invalid regular expression "
                               f"{shown or repr(pattern)}: {detail}") from None


class MatcherRegex:
    """A compiled `=~`/`!~` value; `fullmatch(v)` is truthy when the whole value matches."""

    __slots__ = ("pattern", "_re", "_seen")

    def __init__(self, pattern: str, dot_all: bool) -> None:
        self.pattern = pattern
        self._re = compile_regex(f"^(?:{pattern})$", dot_all, shown=repr(pattern))
        self._seen: dict[str, bool] = {}

    def fullmatch(self, value: str) -> bool | None:
        hit = self._seen.get(value, _UNSEEN)
        if hit is _UNSEEN:
            if len(self._seen) >= _CACHE_LIMIT:
                self._seen.clear()
            hit = self._seen[value] = True if self._re.search(value) is not None else None
        return hit


def compile_matcher(pattern: str, dot_all: bool = True) -> MatcherRegex:
    """A matcher's regex as Prometheus anchors it: 3.x `^(?s:re)$`, 2.x `^(?:re)$` (dot_all False).

    A pattern RE2 rejects raises UnsupportedQuery, which the rule loader reports at load.
    """
    return MatcherRegex(pattern, dot_all)
