"""Prometheus text exposition → samples exactly as a Prometheus scrape would store them.

Built on `prometheus_client.parser`, which reads the text into OpenMetrics-style families;
each line is first checked and lightly rewritten so the parser's gaps do not reach the store:

* counters: the parser renames a counter's samples to `foo_total` when its `# TYPE` line
  says `foo`. Prometheus stores names as written, and a flat sample list needs no types, so
  `# TYPE x counter` is handed to the parser as `untyped` (which keeps names verbatim).
* `_created`: the parser makes `foo_created` a family of its own; flattening every family
  stores it as a plain sample named as written, as Prometheus 2.x/3.x do without
  created-timestamp ingestion.
* exemplars (` # {trace_id="x"} 1.0 123`): the parser takes their last number for the
  sample's timestamp. They are cut off before parsing (Prometheus's text parser rejects
  them; its OpenMetrics parser keeps them apart from the sample); samples never carry them.
* `le` / `quantile`: kept as the raw string. That is what Prometheus 2.x (Debian's 2.42,
  our oracle) stores for the text format; Prometheus 3 rewrites them to OpenMetrics float
  form ("1" → "1.0") for histograms and summaries. Consumers compare with `le_float`, so
  "1" and "1.0" are one bucket under either server.
* value and timestamp: checked here (the parser takes any trailing number for a timestamp
  and reports no line numbers); timestamps are integer milliseconds → `Sample.ts` seconds.
* target labels: `job` and `instance` are added as with `honor_labels: false`; an exposed
  label of the same name moves to `exported_<name>`. Empty label values are dropped and a
  repeated series keeps its first sample, as Prometheus's storage does.

Any problem → ValueError("metrics: line N: <reason>"), one line.

`Reparser` parses successive bodies of one target: when a body repeats the last one apart from
values and timestamps (the usual scrape), it reuses the labels instead of parsing them again.
"""

from __future__ import annotations

import re

from console.model import Sample
from console.safe_text import strip_controls

from .promtext_import import parser

text_fd_to_metric_families = parser().text_fd_to_metric_families  # without the rest of prometheus_client

_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
_TYPE_LINE = re.compile(r"#\s+TYPE\s+(\S+)\s+(\S+)\s*$")
_INT = re.compile(r"[+-]?\d+")


def parse_exposition(text: str, job: str, instance: str) -> list[Sample]:
    """Parse a /metrics body; add the target labels; ValueError with one line on bad input."""
    lines = _Lines(text)
    try:
        families = list(text_fd_to_metric_families(lines))
    except ValueError as e:
        raise ValueError(f"metrics: line {lines.number}: {_reason(e, lines.current)}") from None
    target = {"job": job, "instance": instance}
    seen: set[tuple] = set()
    out: list[Sample] = []
    for family in families:
        for s in family.samples:
            # label values are service text: no terminal escapes get past the parser (a newline is legal PromQL)
            own = {k: (v if v.isprintable() else strip_controls(v, keep_newlines=True)) for k, v in s.labels.items()}
            labels = _with_target({"__name__": s.name, **own}, target)
            key = (tuple(sorted(labels.items())), s.timestamp)
            if key in seen:  # Prometheus keeps the first sample of a repeated series
                continue
            seen.add(key)
            ts = None if s.timestamp is None else float(s.timestamp)
            out.append(Sample(labels=labels, value=float(s.value), ts=ts))
    return out


def le_float(labels: dict[str, str], name: str = "le") -> float:
    """The `le` (or `quantile`) label as a float: "1", "1.0" and "1e0" are one bucket."""
    return _go_float(labels[name].strip())


class _Lines:
    """Feeds the parser one checked line at a time, remembering where it is for errors."""

    def __init__(self, text: str) -> None:
        self._lines = text.split("\n")
        self.number = 0
        self.current = ""

    def __iter__(self):
        for self.number, self.current in enumerate(self._lines, start=1):
            yield _check_line(self.current.strip())


def _check_line(line: str) -> str:
    if not line:
        return line
    if line.startswith("#"):
        m = _TYPE_LINE.match(line)
        if m and m.group(2) not in _TYPES:
            raise ValueError(f"unknown metric type {m.group(2)!r}")
        if m and m.group(2) == "counter":
            return f"# TYPE {m.group(1)} untyped"  # keeps sample names as written
        return line
    series, rest = _split_series(line)
    tokens = rest.split("#", 1)[0].split()  # '#' only starts an exemplar outside labels
    if not tokens:
        raise ValueError(f"no value after {series!r}"[:120])
    if len(tokens) > 2:
        raise ValueError(f"unexpected {tokens[2]!r} after the timestamp")
    try:
        _go_float(tokens[0])
    except ValueError:
        raise ValueError(f"invalid value {tokens[0]!r}") from None
    if len(tokens) == 2 and not _INT.fullmatch(tokens[1]):
        raise ValueError(f"invalid timestamp {tokens[1]!r} (integer milliseconds expected)")
    return f"{series} {' '.join(tokens)}"


def _split_series(line: str) -> tuple[str, str]:
    """'name{a="b"} 1 2' → ('name{a="b"}', ' 1 2'), honouring quotes and escapes in labels."""
    m = re.match(r"[^{\s]*", line)
    end = m.end()
    if end < len(line) and line[end] == "{":
        quoted, escaped = False, False
        for i in range(end + 1, len(line)):
            c = line[i]
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                quoted = not quoted
            elif c == "}" and not quoted:
                return line[: i + 1], line[i + 1 :]
        raise ValueError("unclosed label set '{'")
    return line[:end], line[end:]


def _go_float(text: str) -> float:
    """A float as Go's ParseFloat reads exposition values (no digit underscores)."""
    if "_" in text:
        raise ValueError(text)
    return float(text)


def _reason(e: ValueError, line: str) -> str:
    msg = " ".join(str(e).split())
    if not msg:  # the library raises some errors without a message
        msg = f"cannot parse {line.strip()[:60]!r}"
    elif msg.startswith("Invalid labels"):
        msg = "invalid labels: " + msg.split(":", 1)[1].strip()
    elif msg.startswith("invalid metric name"):
        msg = f"invalid metric name {line.split()[0][:60]!r}"
    return msg[:160]


def _with_target(labels: dict[str, str], target: dict[str, str]) -> dict[str, str]:
    """Prometheus's mutateSampleLabels with honor_labels: false."""
    labels = {k: v for k, v in labels.items() if v != ""}
    clashes = sorted(((k, labels[k]) for k in target if k in labels), key=lambda kv: len(kv[0]))
    labels.update(target)
    for name, value in clashes:
        new = "exported_" + name
        while labels.get(new):
            new = "exported_" + new
        labels[new] = value
    return labels


# --- successive scrapes of one target ---------------------------------------------------


class Reparser:
    """`parse_exposition` for successive bodies of one target, at a fraction of the cost per sample.

    A scrape body almost always repeats the last one line for line, with new values: same comment
    lines, same series text in the same order. Then every sample's labels (target labels applied)
    are the ones the last full parse produced, and only each line's value and timestamp need
    reading, checked exactly as the full parse checks them. Any other difference (a line added,
    removed, reordered or changed, an exemplar, a value or timestamp the full parse would refuse,
    a body whose first parse failed or repeated a series) goes through `parse_exposition`, which
    also gives its errors their exact wording.
    """

    def __init__(self, job: str, instance: str) -> None:
        self.job, self.instance = job, instance
        self._shape: list[str | None] = []  # per line: None for a comment/blank (kept in _comments), else its series text
        self._comments: dict[int, str] = {}
        self._labels: list[dict[str, str]] = []  # per sample line, in order
        # every series text and comment line of the bodies learned so far: a body made only of known lines (a
        # series appeared or vanished, lines moved) is read line by line too
        self._known: dict[str, tuple[dict[str, str], tuple]] = {}  # series text → (labels, their sorted key)
        self._known_comments: set[str] = set()

    def parse(self, text: str) -> list[Sample]:
        out = self._reuse(text)
        if out is None:
            out = self._reuse_lines(text)
        if out is not None:
            return out
        samples = parse_exposition(text, self.job, self.instance)
        self._learn(text, samples)
        return samples

    def _reuse_lines(self, text: str) -> list[Sample] | None:
        """The body line by line from the known lines: None unless every comment line and series text is known,
        no series repeats and every value and timestamp reads as the full parse reads it. The labels of a series
        text do not depend on the lines around it, so the result is the full parse's (samples in line order)."""
        known, comments, out, keys = self._known, self._known_comments, [], set()
        if not known:
            return None
        for raw in text.split("\n"):
            line = raw.strip()
            if not line or line.startswith("#"):
                if line and line not in comments:
                    return None
                continue
            cut = _first_blank(line)
            got = known.get(line[:cut]) if cut > 0 else None
            if got is None:
                return None
            rest = line[cut:]
            if "#" in rest:
                return None
            point = _point(rest)
            if point is None:
                return None
            value, ts = point
            labels, key = got
            if key in keys:
                return None  # a repeated series: the full parse keeps the first
            keys.add(key)
            out.append(Sample(labels=dict(labels), value=value, ts=ts))
        return out

    def _reuse(self, text: str) -> list[Sample] | None:
        shape = self._shape
        lines = text.split("\n")
        if not shape or len(lines) != len(shape):
            return None
        comments, labels, out = self._comments, self._labels, []
        k = 0
        for i, raw in enumerate(lines):
            series = shape[i]
            line = raw.strip()
            if series is None:
                if line != comments[i]:
                    return None
                continue
            if not line.startswith(series):
                return None
            rest = line[len(series):]
            if not rest or rest[0] not in " \t" or "#" in rest:
                return None
            point = _point(rest)
            if point is None:
                return None
            value, ts = point
            out.append(Sample(labels=dict(labels[k]), value=value, ts=ts))
            k += 1
        return out

    def _learn(self, text: str, samples: list[Sample]) -> None:
        """Remember the body's shape when each sample line gave exactly one sample, in order."""
        self._shape, self._comments, self._labels = [], {}, []
        lines = text.split("\n")
        shape, comments = [], {}
        for i, raw in enumerate(lines):
            line = raw.strip()
            if not line or line.startswith("#"):
                shape.append(None)
                comments[i] = line
                continue
            series = _series_text(line)
            if series is None:
                return
            shape.append(series)
        texts = [s for s in shape if s is not None]
        if len(texts) != len(samples):
            return  # a repeated series was dropped: reuse would misalign
        if any(t.split("{", 1)[0] != s.labels.get("__name__") for t, s in zip(texts, samples)):
            return  # samples not in line order (or a name given as {__name__=...}): never reuse
        keys = [tuple(sorted(s.labels.items())) for s in samples]
        if len(set(keys)) != len(samples):
            return
        self._shape, self._comments, self._labels = shape, comments, [s.labels for s in samples]
        if len(self._known) > 4 * len(samples) + 1000:  # a target whose series churn: forget the old ones
            self._known.clear()
            self._known_comments.clear()
        self._known.update(zip(texts, zip(self._labels, keys)))
        self._known_comments.update(c for c in comments.values() if c)


def _point(rest: str) -> tuple[float, float | None] | None:
    """`value [timestamp_ms]` after a series' name and labels; None when it is anything else (a full parse decides)."""
    tokens = rest.split()
    if not tokens or len(tokens) > 2:
        return None
    value = _value(tokens[0])
    if value is None:
        return None
    if len(tokens) == 1:
        return value, None
    if not _INT.fullmatch(tokens[1]):
        return None
    return value, int(tokens[1]) / 1000


def _value(token: str) -> float | None:
    """The sample value exactly as the full parse reads it (int first: "-0" is 0.0), None if refused."""
    try:
        _go_float(token)
    except ValueError:
        return None
    try:
        return float(int(token))
    except ValueError:
        return float(token)


def _first_blank(line: str) -> int:
    """Where a known series text ends: the first space or tab outside braces' quotes is found by the caller's
    dictionary lookup, so this only needs the first blank after the closing brace (or the name)."""
    start = line.rfind("}") + 1 if "{" in line else 0
    i = len(line)
    for blank in (" ", "\t"):
        j = line.find(blank, start)
        if j != -1 and j < i:
            i = j
    return i if i < len(line) else -1


def _series_text(line: str) -> str | None:
    """The series part of a checked sample line (up to the whitespace before the value)."""
    try:
        series, rest = _split_series(line)
    except ValueError:
        return None
    if not rest or rest[0] not in " \t":
        return None
    return series
