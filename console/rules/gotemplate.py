"""A subset of Go's text/template, enough for Prometheus alert labels and annotations.

Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming, comments, variables (`$labels.x`,
`$value`, `$externalLabels.x`, `$x := ...`), fields of the dot (`.Labels.x`, `.Value`),
string/number/bool literals, function calls, pipelines (`x | f y`), parentheses, and
`if`/`else if`/`else`/`end`. Anything else (`range`, `with`, `define`, `template`, unknown
functions) is a TemplateError naming the construct, raised when the template is parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable


class TemplateError(ValueError):
    """The template uses a construct or function this renderer does not have, or is malformed."""


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+))
    | (?P<decl>:=|=)
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>[|()])
    )""", re.VERBOSE)

NO_VALUE = "<no value>"


@dataclass
class _Node:
    kind: str  # text | out | if | decl
    text: str = ""
    pipe: list | None = None
    branches: list | None = None  # if: [(pipe | None, [nodes]), ...]
    name: str = ""


def _tokens(src: str) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(src):
        if src[i:].strip() == "":
            break
        m = _TOKEN.match(src, i)
        if m is None or m.end() == i:
            raise TemplateError(f"unexpected {src[i:].strip()[:20]!r} in {{{{{src.strip()}}}}}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        i = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list, funcs: dict) -> None:
        self.toks, self.i, self.funcs = tokens, 0, funcs

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def pipeline(self) -> list:
        cmds = [self.command()]
        while self.peek() == ("punct", "|"):
            self.i += 1
            cmds.append(self.command())
        return cmds

    def command(self) -> list:
        args = []
        while True:
            kind, val = self.peek()
            if kind is None or (kind == "punct" and val in "|)"):
                break
            args.append(self.operand())
        if not args:
            raise TemplateError("missing value in pipeline")
        return args

    def operand(self):
        kind, val = self.peek()
        self.i += 1
        if kind == "punct" and val == "(":
            inner = self.pipeline()
            if self.peek() != ("punct", ")"):
                raise TemplateError("unclosed parenthesis")
            self.i += 1
            return ("pipe", inner)
        if kind == "str":
            return ("lit", _unquote(val))
        if kind == "raw":
            return ("lit", val[1:-1])
        if kind == "num":  # Go keeps integer constants int: printf "%d" 3 works, 3.0 does not
            if val.lower().lstrip("+-").startswith("0x"):
                return ("lit", int(val, 16))
            if re.fullmatch(r"[-+]?\d+", val):
                return ("lit", int(val))
            return ("lit", float(val))
        if kind == "var":
            return ("var", val)
        if kind == "field":
            return ("field", val)
        if kind == "ident":
            if val in ("true", "false"):
                return ("lit", val == "true")
            if val == "nil":
                return ("lit", None)
            if val not in self.funcs:
                raise TemplateError(f"function {val!r} is not supported")
            return ("func", val)
        raise TemplateError(f"unexpected {val!r}")


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), body)


_KEYWORDS = {"range", "with", "define", "template", "block", "break", "continue"}


def parse(text: str, funcs: dict[str, Callable]) -> list[_Node]:
    """The template as a tree; TemplateError for what cannot be rendered."""
    nodes: list[_Node] = []
    stack: list[tuple[_Node, list]] = []  # open ifs and the node list being filled
    current = nodes
    pos = 0
    pending_trim = False
    for m in _ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if pending_trim:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        if chunk:
            current.append(_Node("text", chunk))
        pending_trim = bool(m.group(3))
        pos = m.end()
        body = m.group(2).strip()
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise TemplateError("unclosed comment")
            continue
        word = body.split(None, 1)[0] if body else ""
        rest = body[len(word):]
        if word in _KEYWORDS:
            raise TemplateError(f"{{{{{word}}}}} is not supported")
        if word == "if":
            node = _Node("if", branches=[(_Parser(_tokens(rest), funcs).pipeline(), [])])
            current.append(node)
            stack.append((node, current))
            current = node.branches[-1][1]
        elif word == "else":
            if not stack or stack[-1][0].kind != "if":
                raise TemplateError("{{else}} without {{if}}")
            node = stack[-1][0]
            rest = rest.strip()
            if rest.startswith("if"):
                node.branches.append((_Parser(_tokens(rest[2:]), funcs).pipeline(), []))
            elif rest:
                raise TemplateError(f"{{{{else {rest.split()[0]}}}}} is not supported")
            else:
                node.branches.append((None, []))
            current = node.branches[-1][1]
        elif word == "end":
            if not stack:
                raise TemplateError("{{end}} without {{if}}")
            _, current = stack.pop()
        else:
            toks = _tokens(body)
            if len(toks) >= 2 and toks[0][0] == "var" and toks[1][0] == "decl":
                pipe = _Parser(toks[2:], funcs)
                node = _Node("decl", name=toks[0][1], pipe=pipe.pipeline())
                _check_consumed(pipe, body)
            else:
                p = _Parser(toks, funcs)
                node = _Node("out", pipe=p.pipeline())
                _check_consumed(p, body)
            current.append(node)
    if stack:
        raise TemplateError("unclosed {{if}}")
    tail = text[pos:]
    if pending_trim:
        tail = tail.lstrip()
    if "{{" in tail:
        raise TemplateError("unclosed action")
    if tail:
        current.append(_Node("text", tail))
    return nodes


def _check_consumed(p: _Parser, body: str) -> None:
    if p.i < len(p.toks):
        raise TemplateError(f"unexpected {p.toks[p.i][1]!r} in {{{{{body}}}}}")


class _Renderer:
    def __init__(self, funcs: dict, dot: Any, variables: dict[str, Any]) -> None:
        self.funcs, self.dot, self.vars = funcs, dot, dict(variables)

    def run(self, nodes: list[_Node], out: list[str]) -> None:
        for n in nodes:
            if n.kind == "text":
                out.append(n.text)
            elif n.kind == "out":
                out.append(to_text(self.pipe(n.pipe)))
            elif n.kind == "decl":
                self.vars[n.name] = self.pipe(n.pipe)
            else:
                for cond, body in n.branches:
                    if cond is None or _truthy(self.pipe(cond)):
                        self.run(body, out)
                        break

    def pipe(self, cmds: list) -> Any:
        value, have = None, False
        for cmd in cmds:
            value = self.command(cmd, value if have else _NONE)
            have = True
        return value

    def command(self, args: list, piped: Any) -> Any:
        head = args[0]
        if head[0] == "func":
            params = [self.operand(a) for a in args[1:]]
            if piped is not _NONE:
                params.append(piped)
            try:
                return self.funcs[head[1]](*params)
            except TemplateError:
                raise
            except (TypeError, ValueError) as e:
                raise TemplateError(f"error calling {head[1]}: {e}") from None
        if len(args) > 1 or piped is not _NONE:
            raise TemplateError("can't give arguments to a non-function")
        return self.operand(head)

    def operand(self, op) -> Any:
        kind, val = op
        if kind == "lit":
            return val
        if kind == "pipe":
            return self.pipe(val)
        if kind == "func":
            return self.command([op], _NONE)
        if kind == "var":
            name, *fields = val.split(".")
            if name not in self.vars:
                raise TemplateError(f"undefined variable {name}")
            return _fields(self.vars[name], fields)
        if val == ".":
            return self.dot
        return _fields(self.dot, val.split(".")[1:])


_NONE = object()


def _fields(value: Any, fields: list[str]) -> Any:
    for f in fields:
        if isinstance(value, dict):
            value = value.get(f, _MISSING)
        else:
            raise TemplateError(f"can't evaluate field {f}")
    return value


class _Missing:
    """A key the map lacks: Go's zero value for map[string]string, printed as ""."""

    def __str__(self) -> str:
        return ""


_MISSING = _Missing()


def _truthy(v: Any) -> bool:
    if v is _MISSING or v is None:
        return False
    return bool(v)


def to_text(v: Any) -> str:
    from .gofmt import go_str  # Go's %v for floats

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_str(v)
    if v is None:
        return NO_VALUE
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{to_text(x)}" for k, x in sorted(v.items())) + "]"
    return str(v)


def render(nodes: list[_Node], funcs: dict, dot: Any, variables: dict[str, Any]) -> str:
    out: list[str] = []
    _Renderer(funcs, dot, variables).run(nodes, out)
    return "".join(out)
