"""Prometheus rule files (`groups:` → `rules:`) as they are: parsed, checked like promtool, compiled."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import promql_parser
import yaml

from .gotemplate import TemplateError
from .templates import Template, compile_template

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_GROUP_KEYS = {"name", "interval", "query_offset", "limit", "rules", "labels"}
_RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


class RuleFileError(ValueError):
    """Problems with rule files, one line each: `file: group "g", rule N, "name": problem`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FileRule:
    """One rule of a rule file, validated; templates parsed."""

    file: str
    group: str
    index: int  # 1-based within its group, as promtool counts
    name: str  # alert name or recorded metric name
    record: bool
    expr: str
    for_: float
    keep_firing_for: float
    labels: tuple[tuple[str, Template], ...]
    annotations: tuple[tuple[str, Template], ...]

    @property
    def where(self) -> str:
        return f'{self.file}: group "{self.group}", rule {self.index}, "{self.name}"'


@dataclass
class RuleGroup:
    file: str
    name: str
    interval: float | None
    rules: list[FileRule] = field(default_factory=list)
    query_offset: float = 0.0  # evaluate this much in the past (Prometheus 2.53+)


def _duration(text, what: str) -> float:
    if text is None:
        return 0.0
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        raise ValueError(f"{what}: not a valid duration string: {text!r}")
    if re.fullmatch(r"0+(ms|[smhdwy])?", str(text).strip()):  # the parser refuses zero durations
        return 0.0
    try:
        return promql_parser.parse_duration(str(text)) / timedelta(seconds=1)
    except (ValueError, TypeError):
        raise ValueError(f"{what}: not a valid duration string: {str(text)!r}") from None


def _templates(raw, where: str, kind: str, problems: list[str], names_must_be_labels: bool):
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        problems.append(f"{where}: {kind} must be a mapping")
        return ()
    out = []
    for k, v in raw.items():
        k = str(k)
        if names_must_be_labels and not _LABEL_NAME.match(k):
            problems.append(f"{where}: invalid label name: {k}")
            continue
        text = "" if v is None else str(v) if not isinstance(v, bool) else str(v).lower()
        try:
            out.append((k, compile_template(text)))
        except TemplateError as e:
            problems.append(f"{where}: {kind[:-1]} {k!r}: template: {e}")
    return tuple(out)


def parse_text(text: str, file: str, check_expr) -> list[RuleGroup]:
    """Parse one rule file's text; RuleFileError listing every problem found."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{mark.line + 1}:{mark.column + 1}: " if mark else ""
        raise RuleFileError([f"{file}: {at}yaml: {getattr(e, 'problem', None) or e}"]) from None
    if doc is None:
        return []
    if not isinstance(doc, dict) or set(doc) - {"groups"}:
        extra = sorted(set(doc) - {"groups"}) if isinstance(doc, dict) else []
        what = f"field {extra[0]} not found in type rulefmt.RuleGroups" if extra else "not a rule file"
        raise RuleFileError([f"{file}: {what}"])
    groups_raw = doc.get("groups") or []
    if not isinstance(groups_raw, list):
        raise RuleFileError([f"{file}: groups must be a list"])
    problems: list[str] = []
    groups: list[RuleGroup] = []
    seen: set[str] = set()
    for gi, g in enumerate(groups_raw):
        if not isinstance(g, dict):
            problems.append(f"{file}: groups[{gi}] must be a mapping")
            continue
        name = str(g.get("name") or "")
        for k in sorted(set(g) - _GROUP_KEYS):
            problems.append(f'{file}: group "{name}": field {k} not found in type rulefmt.RuleGroup')
        if not name:
            problems.append(f"{file}: {gi + 1}: Groupname must not be empty")
        elif name in seen:
            problems.append(f'{file}: {name}: repeated in the same file')
        seen.add(name)
        try:
            interval = _duration(g.get("interval"), f'{file}: group "{name}": interval') or None
        except ValueError as e:
            problems.append(str(e))
            interval = None
        try:
            offset = _duration(g.get("query_offset"), f'{file}: group "{name}": query_offset')
        except ValueError as e:
            problems.append(str(e))
            offset = 0.0
        # Group labels (Prometheus 3.x) go on every rule of the group; a rule's own label wins.
        group_labels = _templates(g.get("labels"), f'{file}: group "{name}"', "labels", problems, True)
        group = RuleGroup(file, name, interval, query_offset=offset)
        for ri, r in enumerate(g.get("rules") or [], 1):
            rule = _rule(file, name, ri, r, problems, check_expr)
            if rule is not None:
                own = {k for k, _ in rule.labels}
                merged = tuple(x for x in group_labels if x[0] not in own) + rule.labels
                group.rules.append(replace(rule, labels=merged))
        groups.append(group)
    if problems:
        raise RuleFileError(problems)
    return groups


def _rule(file: str, group: str, index: int, r, problems: list[str], check_expr) -> FileRule | None:
    if not isinstance(r, dict):
        problems.append(f'{file}: group "{group}", rule {index}: must be a mapping')
        return None
    name = str(r.get("alert") or r.get("record") or "")
    where = f'{file}: group "{group}", rule {index}, "{name}"'
    before = len(problems)
    for k in sorted(set(r) - _RULE_KEYS):
        problems.append(f"{where}: field {k} not found in type rulefmt.RuleNode")
    record = "record" in r
    if record and "alert" in r:
        problems.append(f"{where}: only one of 'record' and 'alert' must be set")
    if not record and "alert" not in r:
        problems.append(f"{where}: one of 'record' or 'alert' must be set")
    expr = r.get("expr")
    if expr is None or str(expr).strip() == "":
        problems.append(f"{where}: field 'expr' must be set in rule")
    else:
        expr = str(expr)
        try:
            check_expr(expr)
        except ValueError as e:
            problems.append(f"{where}: could not parse expression: {e}")
    if record:
        if not _METRIC_NAME.match(name):
            problems.append(f"{where}: invalid recording rule name: {name}")
        for k in ("for", "keep_firing_for", "annotations"):
            if r.get(k) is not None:
                problems.append(f"{where}: invalid field '{k}' in recording rule")
    elif not name:
        problems.append(f"{where}: invalid alert name: empty")
    try:
        for_ = _duration(r.get("for"), f"{where}: for")
        keep = _duration(r.get("keep_firing_for"), f"{where}: keep_firing_for")
    except ValueError as e:
        problems.append(str(e))
        for_ = keep = 0.0
    labels = _templates(r.get("labels"), where, "labels", problems, True)
    for k, _ in labels:
        if k == "__name__":
            problems.append(f"{where}: invalid label name: {k}")
    annotations = _templates(r.get("annotations"), where, "annotations", problems, False)
    if len(problems) > before:
        return None
    return FileRule(file, group, index, name, record, expr, for_, keep, labels, annotations)


def expand_paths(patterns: list[str], base: Path) -> list[Path]:
    """`rule_files` entries, relative to the config's folder, globbed; sorted per pattern."""
    out: list[Path] = []
    for pat in patterns:
        full = pat if Path(pat).is_absolute() else str(base / pat)
        hits = sorted(glob.glob(full))
        if not hits and not glob.has_magic(full):
            raise RuleFileError([f"{full}: cannot read: no such file"])
        out += [Path(h) for h in hits if Path(h).is_file()]
    return out


def load_files(paths: list[Path], check_expr) -> list[RuleGroup]:
    groups: list[RuleGroup] = []
    problems: list[str] = []
    for p in paths:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"{p}: cannot read: {getattr(e, 'strerror', None) or e}")
            continue
        try:
            groups += parse_text(text, str(p), check_expr)
        except RuleFileError as e:
            problems += e.problems
    if problems:
        raise RuleFileError(problems)
    return groups
