"""One-line config errors: where in a TOML document a validation error points, as a user reads the file."""

from __future__ import annotations

from typing import Any


class ConfigError(Exception):
    """A config problem, already phrased as one line: `file: key: problem`."""


def location(loc: tuple[Any, ...], data: dict) -> str:
    """('services', 1, 'auth', 'type') → 'services[1] (pulse).auth.type'."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict) and "name" in node[item]:
                label += f" ({node[item]['name']})"
            parts.append(label)
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            if item in ("function-after", "function-before") or str(item).startswith("function-"):
                continue
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"
