"""Export a recording's samples (CSV, JSON lines, OpenMetrics text for promtool) and list recordings."""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from pathlib import Path
from typing import Iterator, TextIO

from console.clock import utc_iso
from console.promql.parse import compile_expr
from .format import SERIES, SUFFIX, Recording, RecordingError, minute_of
from .replay import parse_instant

SLICE_MS = 3_600_000  # an hour of chunks at a time keeps memory flat on a day-long file


def selector(text: str | None):
    """A PromQL vector selector → a predicate on label sets (None: every series)."""
    if not text:
        return lambda labels: True
    try:
        node = compile_expr(text)
    except Exception as e:  # noqa: BLE001 - any parse problem is one line for the user
        raise RecordingError(f"--series: {str(e).splitlines()[0]}") from None
    if type(node).__name__ != "Selector":
        raise RecordingError(f"--series: {text!r} is not a series selector (e.g. up{{job=\"pulse\"}})")
    return lambda labels: all(m.matches(labels) for m in node.matchers)


def samples(rec: Recording, a: float, b: float, want) -> Iterator[tuple[dict, list[tuple[float, float]]]]:
    """(labels, [(ts, value)...]) per series within [a, b], series by series, an hour of data at a time."""
    ids = {sid for sid, s in rec.streams.items() if s.kind == SERIES and want(s.labels)}
    lo, hi = round(a * 1000), round(b * 1000)
    for start in range(minute_of(lo), hi + 1, SLICE_MS):
        points: dict[int, list] = {}
        for sid, t0, _, data in rec.chunks(start, min(start + SLICE_MS, hi + 1)):
            dec = rec.decode(sid, t0, data) if sid in ids else None
            if dec:
                points.setdefault(sid, []).extend((t / 1000, v) for t, v in zip(dec[0], dec[1]) if lo <= t <= hi)
        for sid in sorted(points):
            yield rec.streams[sid].labels, points[sid]


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def _om_labels(labels: dict) -> str:
    esc = {k: v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") for k, v in labels.items()}
    body = ",".join(f'{k}="{v}"' for k, v in sorted(esc.items()) if k != "__name__")
    return f"{{{body}}}" if body else ""


def write(rec: Recording, out: TextIO, fmt: str, a: float, b: float, want) -> int:
    """Write the samples; returns how many. OpenMetrics keeps each metric family together, as it must."""
    n = 0
    if fmt == "openmetrics":
        by_name: dict[str, list] = {}
        for labels, pts in samples(rec, a, b, want):
            by_name.setdefault(labels.get("__name__", ""), []).append((labels, pts))
        for name in sorted(by_name):
            series: dict[str, list] = {}
            for labels, pts in by_name[name]:
                series.setdefault(_om_labels(labels), []).extend(pts)
            for lbl, pts in series.items():
                for ts, v in sorted(pts):
                    out.write(f"{name}{lbl} {_value(v)} {ts:.3f}\n")
                    n += 1
        out.write("# EOF\n")
        return n
    writer = csv.writer(out) if fmt == "csv" else None
    if writer:
        writer.writerow(["timestamp", "metric", "labels", "value"])
    for labels, pts in samples(rec, a, b, want):
        name = labels.get("__name__", "")
        rest = {k: v for k, v in labels.items() if k != "__name__"}
        for ts, v in pts:
            if writer:
                writer.writerow([f"{ts:.3f}", name, _om_labels(rest)[1:-1], _value(v)])
            else:
                out.write(json.dumps({"ts": ts, "metric": name, "labels": rest,
                                      "value": v if math.isfinite(v) else _value(v)}) + "\n")
            n += 1
    return n


def export_cmd(args) -> int:
    rec = Recording(args.path)
    try:
        if rec.start is None:
            raise RecordingError(f"{args.path}: the recording is empty")
        try:
            a = parse_instant(args.start, rec.start, rec.end) if args.start else rec.start
            b = parse_instant(args.end, rec.start, rec.end) if args.end else rec.end
        except ValueError as e:
            raise RecordingError(str(e)) from None
        want = selector(args.series)
        if args.output:
            with open(args.output, "w", newline="") as f:
                n = write(rec, f, args.format, a, b, want)
        else:
            try:
                n = write(rec, sys.stdout, args.format, a, b, want)
                sys.stdout.flush()
            except BrokenPipeError:  # `| head`: the reader has seen enough
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit
                return 0
        print(f"{n} samples exported", file=sys.stderr)
        for what in rec.skipped:
            print(f"opsconsole: skipped unreadable data: {what}", file=sys.stderr)
    finally:
        rec.close()
    return 0


def describe(path: Path) -> dict:
    """start, end, services and size of one recording (or its error)."""
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    try:
        rec = Recording(path)
    except RecordingError as e:
        return {"path": str(path), "size": size, "error": str(e)}
    try:
        services = sorted({s.source for s in rec.streams.values() if s.source})
        return {"path": str(path), "size": size, "start": rec.start, "end": rec.end, "services": services,
                "environment": rec.meta.get("environment"), "skipped": list(rec.skipped)}
    finally:
        rec.close()


def list_recordings(args) -> int:
    from console.config.schema import load_config
    from console.paths import data_dir

    folder = Path(args.dir) if args.dir else data_dir(load_config(args.config).data_dir if args.config else None) / "recordings"
    files = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    if not files:
        print(f"no recordings in {folder}")
        return 0
    for d in (describe(p) for p in files):
        size = f"{d['size'] / 1e6:8.1f} MB"
        if "error" in d:
            print(f"{d['path']}  {size}  ✖ {d['error']}")
            continue
        span = "empty" if d["start"] is None else f"{utc_iso(d['start'])} → {utc_iso(d['end'])}"
        print(f"{d['path']}  {span}  {size}  {d['environment']}: {', '.join(d['services'])}")
    return 0
