"""Writes a config table back out as TOML (for `opsconsole sim --write-config`); secrets stay env-var names."""

from __future__ import annotations

import json
from pathlib import Path


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def _table(lines: list[str], prefix: str, table: dict) -> None:
    for k, v in table.items():
        if not isinstance(v, (dict, list)) or (isinstance(v, list) and not any(isinstance(x, dict) for x in v)):
            lines.append(f"{k} = {_value(v)}")
    for k, v in table.items():
        if isinstance(v, dict):
            lines.append(f"\n[{prefix}{k}]")
            _table(lines, f"{prefix}{k}.", v)
        elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
            for item in v:
                lines.append(f"\n[[{prefix}{k}]]")
                _table(lines, f"{prefix}{k}.", item)


def to_toml(data: dict) -> str:
    lines: list[str] = []
    _table(lines, "", data)
    return "\n".join(lines) + "\n"


def write_config(path: str, data: dict) -> None:
    Path(path).write_text("# written by opsconsole sim\n" + to_toml(data))
