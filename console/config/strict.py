"""The config's typed tables: strict msgspec Structs, durations and sizes read by one hook, errors as one line."""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Literal, get_args, get_origin

import msgspec

from console.durations import parse_duration

from .errors import ConfigError, location


class Seconds(float):
    """A duration in the config ('90s', '5m', a number of seconds), held as seconds."""


class Bytes(int):
    """A size in the config ('500MB', '2GiB', a number of bytes), held as bytes."""


def parse_size(text: str | int) -> int:
    """'500MB' → 500_000_000 (KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB of 1024); a number is bytes."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 500MB, 2GB)")
    unit = (m[2] or "B").upper()
    power = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4}[unit[0]]
    return int(float(m[1]) * (1024 if "I" in unit else 1000) ** power)


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Seconds:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h)")
        return Seconds(parse_duration(value))
    if kind is Bytes:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"not a size: {value!r} (use e.g. 500MB, 2GB)")
        return Bytes(parse_size(value))
    raise NotImplementedError(kind)


def _enc_hook(value: Any) -> Any:
    if isinstance(value, (Seconds, Bytes)):  # msgspec encodes only the exact float and int types itself
        return float(value) if isinstance(value, float) else int(value)
    raise NotImplementedError(type(value))


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A config table: an unknown key is an error. `model_copy`/`model_dump` keep the names callers already use."""

    def model_copy(self, *, update: dict[str, Any] | None = None):
        """A copy with some fields replaced (not validated again, as pydantic's was not)."""
        return msgspec.structs.replace(self, **(update or {}))

    def model_dump(self, *, mode: str = "json", by_alias: bool = True) -> dict[str, Any]:
        """The table as plain data, keys as written in TOML (`for`, not `for_`)."""
        return msgspec.to_builtins(self, enc_hook=_enc_hook)


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")


def _path(text: str) -> list[Any]:
    """'.services[0].auth' → ['services', 0, 'auth'] (msgspec's path; a dict key is shown as `[...]`)."""
    return [int(m[2]) if m[2] else (m[1] if m[1] is not None else "...") for m in _STEP.finditer(text or "")]


_UNIONS = (typing.Union, types.UnionType)


def _inner(kind: Any, step: Any) -> Any:
    """The declared type one step down (a Struct's field by its TOML name, a list's item, a dict's value)."""
    while get_origin(kind) in _UNIONS:  # an optional table: the table
        kind = next((a for a in get_args(kind) if a is not type(None) and get_origin(a) is not Literal), None)
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        names = {f.encode_name: f.name for f in msgspec.structs.fields(kind)}
        return typing.get_type_hints(kind)[names[step]] if step in names else None
    args = [a for a in get_args(kind) if a is not Ellipsis]  # tuple[int, ...]: its items are ints
    return args[-1] if get_origin(kind) in (list, tuple, dict) and args else None


def _follow(root: type, data: Any, loc: list[Any]) -> tuple[list[Any], Any]:
    """msgspec's path with each dict key it leaves out (`[...]`) found again, and the declared type at its end."""
    kind, node, out = root, data, []
    for step in loc:
        kind = _inner(kind, step)
        if step == "..." and isinstance(node, dict):  # the first entry that does not convert is the one
            step = next((k for k, v in node.items() if not _converts(v, kind)), "...")
        out.append(step)
        node = node[step] if isinstance(node, (dict, list)) and _has(node, step) else None
    while get_origin(kind) in _UNIONS:
        kind = next((a for a in get_args(kind) if get_origin(a) is Literal), None)
    return out, kind


def _has(node: dict | list, step: Any) -> bool:
    return step in node if isinstance(node, dict) else isinstance(step, int) and step < len(node)


def _converts(value: Any, kind: Any) -> bool:
    try:
        msgspec.convert(value, kind, dec_hook=_dec_hook)
    except (msgspec.ValidationError, TypeError):
        return False
    return True


def _problem(root: type, data: Any, raw: str) -> tuple[list[Any], str]:
    """msgspec's error → (where, problem), phrased as a user reads the TOML file."""
    m = _AT.match(raw.strip())
    msg = m["msg"]
    loc, kind = _follow(root, data, _path(m["path"]))
    if unknown := re.fullmatch(r"Object contains unknown field `(.+)`", msg):
        return loc + [unknown[1]], "unknown key"
    if missing := re.fullmatch(r"Object missing required field `(.+)`", msg):
        return loc + [missing[1]], "missing (this key is required)"
    if (bad := re.fullmatch(r"Invalid enum value (.+)", msg)) and get_origin(kind) is Literal:
        return loc, f"must be one of {', '.join(repr(c) for c in get_args(kind))}, got {bad[1]}"
    if got := re.fullmatch(r"Expected `(.+)`, got `(.+)`", msg):
        return loc, f"expected {_toml(got[1])}, got {_toml(got[2])}"
    return loc, msg


def _toml(kind: str) -> str:
    """msgspec's name of a type → TOML's (`object` is a table) or ours (`Seconds` is a duration)."""
    for ours, toml in (("object", "table"), ("Seconds", "duration"), ("Bytes", "size")):
        kind = re.sub(rf"\b{ours}\b", toml, kind)
    return kind


def decode(table: Any, kind: type, where: str, *, prefix: str = "") -> Any:
    """`table` as a `kind`, or ConfigError `where: key: problem` (prefix: where the table sits, e.g. `actions[0]`)."""
    try:
        return msgspec.convert(table, kind, dec_hook=_dec_hook)
    except msgspec.ValidationError as e:
        loc, msg = _problem(kind, table, str(e))
        key = location(tuple(loc), table) if loc else ""
        at = f"{prefix}.{key}" if prefix and key else prefix or key or "(top level)"
        raise ConfigError(f"{where}: {at}: {msg}") from None
