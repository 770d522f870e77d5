"""Functions that rewrite or order label sets: label_replace, label_join, sort, sort_by_label."""

from __future__ import annotations

import re
from functools import cmp_to_key

from .errors import EvalError
from .regex import compile_regex
from .semantics import Semantics

Vector = list[tuple[dict[str, str], float]]

_LEGACY_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_GROUP_NAME = re.compile(r"[A-Za-z0-9_]+")


def _check_label_name(sem: Semantics, name: str) -> None:
    # 3.x accepts any UTF-8 label name; 2.x only the legacy charset.
    ok = bool(name) if sem.regex_dot_all else bool(_LEGACY_NAME.match(name))
    if not ok:
        raise EvalError(f"invalid destination label name in label_replace/label_join: {name!r}")


def expand(template: str, match) -> str:
    """Go's regexp.Expand: $1, ${1}, $name, ${name}, $$; an unknown group expands to ""."""
    out, i, n = [], 0, len(template)
    names = match.re.groupindex
    while i < n:
        c = template[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            close = template.find("}", i + 2)
            name = template[i + 2:close] if close > 0 else ""
            if close < 0 or not _GROUP_NAME.fullmatch(name):
                out.append(c)  # not a reference: Go keeps the "$" literally
                i += 1
                continue
            end = close + 1
        else:
            m = _GROUP_NAME.match(template, i + 1)
            if m is None:
                out.append(c)
                i += 1
                continue
            name, end = m.group(), m.end()
        out.append(_group(match, names, name))
        i = end
    return "".join(out)


def _group(match, names, name: str) -> str:
    if name.isdigit():
        k = int(name)
        if k > match.re.groups:
            return ""
        return match.group(k) or ""
    if name in names:
        return match.group(name) or ""
    return ""


def label_replace(sem: Semantics, vec: Vector, dst: str, repl: str, src: str, regex: str) -> Vector:
    flags = "(?s:" if sem.regex_dot_all else "(?:"
    program = compile_regex(f"^{flags}{regex})$", dot_all=False, shown=repr(regex))
    _check_label_name(sem, dst)
    out = []
    for labels, v in vec:
        m = program.search(labels.get(src, ""))
        if m is None:
            out.append((labels, v))
            continue
        out.append((_with_label(labels, dst, expand(repl, m)), v))
    return out


def label_join(sem: Semantics, vec: Vector, dst: str, sep: str, srcs: list[str]) -> Vector:
    _check_label_name(sem, dst)
    out = []
    for labels, v in vec:
        out.append((_with_label(labels, dst, sep.join(labels.get(s, "") for s in srcs)), v))
    return out


def _with_label(labels: dict, dst: str, value: str) -> dict:
    """A copy with `dst` set to `value`; an empty value removes the label, as Prometheus does."""
    new = dict(labels)
    if value:
        new[dst] = value
    else:
        new.pop(dst, None)
    return new


def sort_by_value(vec: Vector, descending: bool) -> Vector:
    # NaN goes last either way, as Prometheus' sort and sort_desc leave it.
    nan = [s for s in vec if s[1] != s[1]]
    rest = sorted((s for s in vec if s[1] == s[1]), key=lambda s: s[1], reverse=descending)
    return rest + nan


def _natural_key(text: str) -> list:
    return [(0, int(part), part) if part.isdigit() else (1, 0, part)
            for part in re.findall(r"\d+|\D+", text)]


def sort_by_label(vec: Vector, names: list[str], descending: bool) -> Vector:
    """Natural order of the named labels' values (as 3.x), then the whole label set."""
    def cmp(a, b) -> int:
        for n in names:
            ka, kb = _natural_key(a[0].get(n, "")), _natural_key(b[0].get(n, ""))
            if ka != kb:
                return -1 if ka < kb else 1
        la, lb = sorted(a[0].items()), sorted(b[0].items())
        return (la > lb) - (la < lb)
    ordered = sorted(vec, key=cmp_to_key(cmp))
    return ordered[::-1] if descending else ordered
