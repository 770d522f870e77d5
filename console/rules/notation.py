"""promtool's expanding series notation: `1 2 _ stale 0+10x5 100-1x3 _x2 1x4`."""

from __future__ import annotations

import re

from console.metrics.store import STALE_NAN

_EXPAND = re.compile(r"^(?P<a>[-+]?[^x+-][^x]*?|[-+]?Inf|[-+]?NaN)(?:(?P<op>[+-])(?P<b>[^x]+))?x(?P<n>\d+)$")


def _float(text: str) -> float:
    t = text.strip()
    low = t.lower().lstrip("+-")
    if low in ("inf", "nan"):
        v = float("nan") if low == "nan" else float("inf")
        return -v if t.startswith("-") else v
    return float(t)


def parse_values(text: str) -> list[float | None]:
    """One value per step; None where a step has no sample (`_`)."""
    out: list[float | None] = []
    for tok in str(text).split():
        if tok == "_":
            out.append(None)
        elif tok == "stale":
            out.append(STALE_NAN)
        elif tok.startswith("_x"):
            out.extend([None] * int(tok[2:]))
        else:
            try:
                out.append(_float(tok))
                continue
            except ValueError:
                pass
            m = _EXPAND.match(tok)
            if m is None:
                raise ValueError(f"bad series value {tok!r}")
            value, step = _float(m["a"]), _float(m["b"] or "0")
            if m["op"] == "-":
                step = -step
            for _ in range(int(m["n"]) + 1):  # N+1 values, by repeated addition as upstream
                out.append(value)
                value += step
    return out
