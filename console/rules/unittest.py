"""`opsconsole rules test`: promtool's rule unit-test files, run on the local evaluator."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import promql_parser
import yaml

from console import promql
from console.metrics.store import SeriesStore

from .alertinfo import AlertContext
from .lifecycle import RuleEvaluator
from .load import from_file_rule
from .notation import parse_values
from .promfile import RuleFileError, expand_paths, load_files


@dataclass
class GroupResult:
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _seconds(text, what: str) -> float:
    if text is None:
        return 0.0
    s = str(text).strip()
    if re.fullmatch(r"0+(ms|[smhdwy])?", s):  # the parser refuses zero durations; Prometheus does not
        return 0.0
    try:
        return promql_parser.parse_duration(s) / timedelta(seconds=1)
    except (ValueError, TypeError):
        raise ValueError(f"{what}: not a valid duration string: {s!r}") from None


def fmt_duration(seconds: float) -> str:
    """Go's model.Duration String(): 1h5m, 30s, 0s."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in (("y", 31536000000), ("w", 604800000), ("d", 86400000), ("h", 3600000),
                       ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


def _labels_text(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}"


def _parse_series(selector: str) -> dict[str, str]:
    sel = promql_parser.parse(selector)
    labels = {m.name: m.value for m in sel.matchers.matchers}
    if sel.name:
        labels["__name__"] = sel.name
    return labels


class _Run:
    """One test group: its store, the rule files' rules, and the evaluation loop."""

    def __init__(self, test: dict, rules, eval_interval: float, semantics: str) -> None:
        self.test, self.eval_interval, self.semantics = test, eval_interval, semantics
        self.store = SeriesStore(retention=1e12)
        self.rules = rules
        ctx = AlertContext(external_labels={str(k): str(v) for k, v in
                                            (test.get("external_labels") or {}).items()})
        self.evaluator = RuleEvaluator(rules, ctx, record=self._record)

    def _record(self, samples) -> None:
        self.store.add_many(samples)

    def load(self) -> None:
        # Without `interval`, promtool 2.42 puts every value at time 0 (the first one is kept:
        # checked against it); in the 3.x dialect values step by the evaluation interval.
        default = 0.0 if self.semantics == "prometheus-2" else self.eval_interval
        given = self.test.get("interval")
        interval = default if given is None else _seconds(given, "interval")
        series = []
        for s in self.test.get("input_series") or []:
            labels = _parse_series(str(s["series"]))
            for i, v in enumerate(parse_values(s.get("values", ""))):
                if v is not None:
                    series.append((labels, i * interval, v))
        for labels, t, v in sorted(series, key=lambda x: x[1]):
            self.store.add(labels, t, v)

    def write_alerts(self, ts: float) -> None:
        """ALERTS{alertname, alertstate, ...} = 1 for every active alert, as Prometheus writes it."""
        names = {r.name for r in self.rules if not r.record}
        samples = []
        for name in sorted(names):
            for state, labels, _ in self.evaluator.active_alerts(name):
                samples.append(({**labels, "__name__": "ALERTS", "alertstate": state}, ts, 1.0))
        self.store.add_many(samples)

    def query(self, expr: str, at: float):
        return promql.evaluate(expr, self.store, at, semantics=self.semantics)


def run_group(test: dict, rules, eval_interval: float, semantics: str) -> GroupResult:
    result = GroupResult(str(test.get("name") or ""))
    run = _Run(test, rules, eval_interval, semantics)
    try:
        run.load()
        alert_tests = [(_seconds(a.get("eval_time"), "eval_time"), a)
                       for a in test.get("alert_rule_test") or []]
        expr_tests = [(_seconds(e.get("eval_time"), "eval_time"), e)
                      for e in test.get("promql_expr_test") or []]
    except (ValueError, KeyError, TypeError) as e:
        result.problems.append(f"    {e}")
        return result
    times = [t for t, _ in alert_tests] + [t for t, _ in expr_tests]
    maxt = max(times, default=0.0)
    alert_tests.sort(key=lambda x: x[0])
    cur = 0
    steps = int(math.floor(maxt / run.eval_interval + 1e-9)) + 1
    for k in range(steps):
        ts = k * run.eval_interval
        run.evaluator.evaluate(ts, run.query)
        run.write_alerts(ts)
        while cur < len(alert_tests) and ts <= alert_tests[cur][0] < ts + run.eval_interval:
            t, case = alert_tests[cur]
            _check_alerts(run, t, case, result)
            cur += 1
    for t, case in expr_tests:
        _check_expr(run, t, case, result)
    return result


def _alert_key(labels: dict, annotations: dict) -> tuple:
    return (tuple(sorted(labels.items())), tuple(sorted(annotations.items())))


def _check_alerts(run: _Run, t: float, case: dict, result: GroupResult) -> None:
    name = str(case.get("alertname"))
    got = sorted(_alert_key(labels, ann) for state, labels, ann in run.evaluator.active_alerts(name)
                 if state == "firing")
    exp = []
    for a in case.get("exp_alerts") or []:
        labels = {str(k): str(v) for k, v in (a.get("exp_labels") or {}).items()}
        labels["alertname"] = name
        ann = {str(k): str(v) for k, v in (a.get("exp_annotations") or {}).items()}
        exp.append(_alert_key(labels, ann))
    exp.sort()
    if got != exp:
        result.problems.append(
            f"    alertname: {name}, time: {fmt_duration(t)}, \n"
            f"        exp:{_alerts_text(exp)}, \n        got:{_alerts_text(got)}")


def _alerts_text(alerts: list[tuple]) -> str:
    items = []
    for labels, ann in alerts:
        items.append(f"{{Labels:{_labels_text(dict(labels))} Annotations:{_labels_text(dict(ann))}}}")
    return "[" + " ".join(items) + "]"


def _check_expr(run: _Run, t: float, case: dict, result: GroupResult) -> None:
    expr = str(case.get("expr"))
    try:
        got = run.query(expr, t)
    except ValueError as e:
        result.problems.append(f"    expr: {expr!r}, time: {fmt_duration(t)}, err: {e}")
        return
    got_s = sorted((tuple(sorted(l.items())), v) for l, v in got)
    exp_s = []
    for s in case.get("exp_samples") or []:
        labels = _parse_series(str(s.get("labels") or "{}")) if s.get("labels") else {}
        exp_s.append((tuple(sorted(labels.items())), float(s.get("value"))))
    exp_s.sort()
    if [k for k, _ in got_s] != [k for k, _ in exp_s] or any(
            not (a == b) for (_, a), (_, b) in zip(got_s, exp_s)):
        result.problems.append(
            f"    expr: {expr!r}, time: {fmt_duration(t)},\n"
            f"        exp: {_samples_text(exp_s)}\n        got: {_samples_text(got_s)}")


def _samples_text(samples) -> str:
    from .gofmt import go_str

    return ", ".join(f"{_labels_text(dict(k))} {go_str(v)}" for k, v in samples) or "nil"


def run_file(path: Path, semantics: str) -> tuple[list[GroupResult], list[str]]:
    """(results per test group, file-level problems such as a rule file that does not load)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        return [], [f"  {path}: {e}"]
    try:
        eval_interval = _seconds(doc.get("evaluation_interval") or "1m", "evaluation_interval")
        paths = expand_paths([str(p) for p in doc.get("rule_files") or []], path.parent)
        groups = load_files(paths, promql.check)
    except RuleFileError as e:
        return [], [f"  {p}" for p in e.problems]
    except ValueError as e:
        return [], [f"  {e}"]
    order = [str(g) for g in doc.get("group_eval_order") or []]
    if order:
        rank = {name: i for i, name in enumerate(order)}
        groups = sorted(groups, key=lambda g: rank.get(g.name, len(rank)))
    rules = [from_file_rule(r, 0.0, g.query_offset) for g in groups for r in g.rules]  # promtool: one interval
    results = [run_group(t or {}, rules, eval_interval, semantics) for t in doc.get("tests") or []]
    return results, []
