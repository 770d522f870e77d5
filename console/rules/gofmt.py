"""Go's number formatting as Prometheus templates print it (%v, %g, printf, humanize*)."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from decimal import Decimal


def _digits(v: float) -> tuple[str, int]:
    """Shortest round-trip digits and the decimal point's position (strconv's digs.d, digs.dp)."""
    sign, digits, exp = Decimal(repr(abs(v))).as_tuple()
    text = "".join(map(str, digits)).lstrip("0") or "0"
    dp = len("".join(map(str, digits))) + exp - (len("".join(map(str, digits))) - len(text))
    text = text.rstrip("0") or "0"
    return text, dp


def go_str(v: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64), which is what fmt's %v prints for a float64."""
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    neg = "-" if math.copysign(1.0, v) < 0 else ""
    if v == 0:
        return neg + "0"
    d, dp = _digits(v)
    exp = dp - 1
    if exp < -4 or exp >= 6:  # shortest %g decides with precision 6
        mant = d[0] + ("." + d[1:] if len(d) > 1 else "")
        return f"{neg}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{d}"
    if dp >= len(d):
        return neg + d + "0" * (dp - len(d))
    return f"{neg}{d[:dp]}.{d[dp:]}"


def _pct_g(v: float, prec: int = 4) -> str:
    """fmt's %.Ng (C-like, exponent at least two digits, Go's spellings of Inf and NaN)."""
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.{prec}g}"


def to_float(x) -> float:
    if isinstance(x, bool):
        raise ValueError("cannot convert bool to float")
    if isinstance(x, (int, float)):
        return float(x)
    try:
        return float(str(x).strip())
    except ValueError:
        raise ValueError(f"strconv.ParseFloat: parsing {str(x)!r}: invalid syntax") from None


def humanize(x) -> str:
    v = to_float(x)
    if v == 0 or not math.isfinite(v):
        return _pct_g(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return _pct_g(v) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _pct_g(v) + prefix


def humanize1024(x) -> str:
    v = to_float(x)
    if abs(v) <= 1 or not math.isfinite(v):
        return _pct_g(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return _pct_g(v) + prefix


def humanize_duration(x) -> str:
    v = to_float(x)
    if not math.isfinite(v):
        return _pct_g(v)
    if v == 0:
        return _pct_g(v) + "s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        d = _go_int64(v)  # Go's int64 arithmetic, overflow included
        seconds = _go_rem(d, 60)
        minutes = _go_rem(_go_trunc_div(d, 60), 60)
        hours = _go_rem(_go_trunc_div(d, 3600), 24)
        days = _go_trunc_div(d, 86400)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_pct_g(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_pct_g(v)}{prefix}s"


def humanize_percentage(x) -> str:
    return _pct_g(to_float(x) * 100) + "%"


def humanize_timestamp(x) -> str:
    """floatToTime: nanoseconds, then model.Time's milliseconds (truncated); Go's Time.String()."""
    v = to_float(x)
    if not math.isfinite(v):
        return _pct_g(v)
    ns = v * 1e9
    if not -(2.0**63) <= ns < 2.0**63:
        raise ValueError(f"{go_str(v)} cannot be represented as a nanoseconds timestamp since it "
                         "overflows int64")
    ms = _go_trunc_div(int(ns), 1_000_000)
    seconds, millis = divmod(ms, 1000)
    t = datetime.fromtimestamp(seconds, tz=timezone.utc)
    frac = f"{millis:03d}".rstrip("0")
    return t.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "") + " +0000 UTC"


def _go_int64(v: float) -> int:
    """int64(v) as Go compiles it on amd64: out of range (or NaN) is the minimum int64."""
    if v != v or not -(2.0**63) <= v < 2.0**63:
        return -(2**63)
    return int(v)


def _go_trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _go_rem(a: int, b: int) -> int:
    return a - b * _go_trunc_div(a, b)


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def printf(fmt: str, *args) -> str:
    """fmt.Sprintf for the verbs templates use: %s %v %d %f %e %g %q %x %%."""
    out, i, it = [], 0, iter(args)
    for m in _VERB.finditer(fmt):
        out.append(fmt[i:m.start()])
        i = m.end()
        flags, width, prec, verb = m.group(1), m.group(2) or "", m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        try:
            a = next(it)
        except StopIteration:
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_one(flags, width, prec, verb, a))
    out.append(fmt[i:])
    extra = list(it)
    if extra:
        out.append("%!(EXTRA " + ", ".join(_type_value(a) for a in extra) + ")")
    return "".join(out)


def _type_value(a) -> str:
    if isinstance(a, float):
        return f"float64={go_str(a)}"
    if isinstance(a, int):
        return f"int={a}"
    return f"string={a}"


def _one(flags: str, width: str, prec: str | None, verb: str, a) -> str:
    spec = flags + width + (f".{prec}" if prec is not None else "")
    if isinstance(a, bool):
        a = "true" if a else "false"
    if verb in "sv" and not isinstance(a, (int, float)):
        return f"{str(a):{_align(flags)}{width}}"
    if verb == "v" or (verb == "s" and isinstance(a, (int, float))):
        if verb == "s":
            return f"%!s({_type_value(a)})"
        return f"{go_str(a) if isinstance(a, float) else str(a):{_align(flags)}{width}}"
    if verb == "q":
        return '"' + str(a).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(a, str):
        return f"%!{verb}(string={a})"
    if verb == "d":
        if isinstance(a, float):  # Go: %d of a float64 is an error text, whatever its value
            return f"%!d(float64={go_str(a)})"
        return ("%" + spec + "d") % a
    if verb in "eEfFgG":
        if isinstance(a, int):  # Go: %f of an int is an error text
            return f"%!{verb}(int={a})"
        if not math.isfinite(a):
            return _pct_g(a)
        if verb in "gG" and prec is None:  # Go's %g is the shortest representation
            text = go_str(a)
            text = text.upper() if verb == "G" else text
            return f"{text:{_align(flags)}{width}}"
        return ("%" + spec + verb) % a
    if verb in "xX":
        return ("%" + spec + verb) % int(a)
    return f"%!{verb}(float64={go_str(a)})"


def _align(flags: str) -> str:
    return "<" if "-" in flags else ">"
