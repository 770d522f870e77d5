"""Prometheus alert templates: labels and annotations rendered with $labels, $value, $externalLabels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote, urlparse

from console.durations import parse_duration
from console.promql.labelfns import expand
from console.promql.regex import compile_regex

from . import gofmt
from .gotemplate import TemplateError, parse, render


def _kind(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "string"


def _comparable(a, b) -> bool:
    """Go's template comparisons refuse mixed kinds: `gt $value 80` fails, `gt $value 80.0` works."""
    if _kind(a) != _kind(b):
        raise ValueError("incompatible types for comparison")  # reported as "error calling gt: ..."
    return True


def _title(text: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    out, prev_letter = [], False
    for ch in str(text):
        out.append(ch.upper() if not prev_letter else ch)
        prev_letter = ch.isalnum() or ch in "_'"
    return "".join(out)


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    program = compile_regex(pattern, dot_all=False)
    out, pos = [], 0
    for m in program.finditer(text):
        out.append(text[pos:m.start()])
        out.append(expand(repl, m))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def _match(pattern: str, text: str) -> bool:
    return compile_regex(pattern, dot_all=False).search(str(text)) is not None


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1:host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _strip_domain(host: str) -> str:
    name, _, port = host.partition(":") if host.count(":") == 1 else (host, "", "")
    name = name.split(".", 1)[0]
    return f"{name}:{port}" if port else name


def _parse_duration(text: str) -> float:
    return parse_duration(text)


FUNCS = {
    "humanize": gofmt.humanize, "humanize1024": gofmt.humanize1024,
    "humanizeDuration": gofmt.humanize_duration, "humanizePercentage": gofmt.humanize_percentage,
    "humanizeTimestamp": gofmt.humanize_timestamp, "printf": gofmt.printf,
    "title": _title, "toUpper": lambda s: str(s).upper(), "toLower": lambda s: str(s).lower(),
    "reReplaceAll": _re_replace_all, "match": _match, "stripPort": _strip_port,
    "stripDomain": _strip_domain, "safeHtml": str, "parseDuration": _parse_duration,
    "urlquery": lambda *a: quote("".join(map(str, a)), safe=""),
    "toTime": lambda x: gofmt.humanize_timestamp(x),
    "toDuration": lambda x: gofmt.humanize_duration(x),
    "len": lambda x: float(len(x)), "not": lambda x: not x,
    "and": lambda *a: next((x for x in a if not x), a[-1]),
    "or": lambda *a: next((x for x in a if x), a[-1]),
    "eq": lambda a, *b: any(_comparable(a, x) and a == x for x in b),
    "ne": lambda a, b: _comparable(a, b) and a != b,
    "lt": lambda a, b: _comparable(a, b) and a < b, "le": lambda a, b: _comparable(a, b) and a <= b,
    "gt": lambda a, b: _comparable(a, b) and a > b, "ge": lambda a, b: _comparable(a, b) and a >= b, "index": lambda m, k: m.get(k, "") if isinstance(m, dict) else "",
    "print": lambda *a: "".join(map(gofmt_text, a)),
}


def gofmt_text(x) -> str:
    from .gotemplate import to_text

    return to_text(x)


# Prometheus prepends these definitions to every alert template (rules/alerting.go).
_PRELUDE_VARS = ("$labels", "$externalLabels", "$value", "$externalURL")


@dataclass(frozen=True)
class Template:
    """One parsed label or annotation value."""

    text: str
    nodes: tuple

    def render(self, labels: dict[str, str], value: float,
               external_labels: dict[str, str] | None = None, external_url: str = "") -> str:
        ext = dict(external_labels or {})
        dot = {"Labels": dict(labels), "ExternalLabels": ext, "Value": value,
               "ExternalURL": external_url}
        variables = {"$": dot, "$labels": dot["Labels"], "$externalLabels": ext, "$value": value,
                     "$externalURL": external_url}
        try:
            return render(list(self.nodes), FUNCS, dot, variables)
        except TemplateError:
            raise
        except Exception as e:  # a function failing on this data: say which, never blank
            raise TemplateError(f"{type(e).__name__}: {e}") from None


def compile_template(text: str) -> Template:
    """Parse `text`; TemplateError naming the construct the console cannot render."""
    nodes = parse(text, FUNCS)
    _check_variables(nodes)
    return Template(text, tuple(nodes))


def _check_variables(nodes) -> None:
    """Undefined variables fail at load, as Go's parser does."""
    declared = set(_PRELUDE_VARS) | {"$"}

    def walk(ns):
        for n in ns:
            pipes = []
            if n.kind in ("out", "decl"):
                pipes.append(n.pipe)
            if n.kind == "decl":
                declared.add(n.name)
            if n.kind == "if":
                for cond, body in n.branches:
                    if cond is not None:
                        pipes.append(cond)
                    walk(body)
            for p in pipes:
                for name in _vars_in(p):
                    if name not in declared:
                        raise TemplateError(f'undefined variable "{name}"')
    walk(nodes)


def _vars_in(pipe) -> list[str]:
    out = []
    for cmd in pipe:
        for kind, val in cmd:
            if kind == "var":
                out.append(val.split(".")[0])
            elif kind == "pipe":
                out += _vars_in(val)
    return out


def finite_or_nan(v: float | None) -> float:
    return math.nan if v is None else v


__all__ = ["Template", "TemplateError", "compile_template", "urlparse"]
