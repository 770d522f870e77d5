"""The alerting-rule lifecycle, as Prometheus runs it: inactive → pending → firing, per result series."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from console.memento import SNAPSHOT_VERSION, check_version
from console.state import RuleState

from .alertinfo import AlertContext, render_alert
from .load import Rule

# What recording rules write: (labels incl. __name__, timestamp, value); a NaN here may be
# the staleness marker for a series the rule stopped producing.
Record = Callable[[list[tuple[dict[str, str], float, float]]], None]


@dataclass
class Alert:
    """One series of one rule while its condition holds (or is kept firing)."""

    active_since: float
    fired_at: float | None = None
    value: float = math.nan
    labels: dict[str, str] = field(default_factory=dict)
    kept_since: float | None = None  # keep_firing_for: when the condition stopped holding
    info: dict = field(default_factory=dict)  # rule-file alerts: service, severity, texts


class RuleEvaluator:
    """Prometheus's alerting-rule lifecycle: inactive → pending (condition holds) → firing (held `for`)."""

    def __init__(self, rules: list[Rule], context: AlertContext | None = None,
                 record: Record | None = None) -> None:
        self.rules = rules
        self.context = context or AlertContext()
        self.record = record
        self._alerts: dict[tuple[str, str], dict[tuple, Alert]] = {}
        self._errors: dict[tuple[str, str], str] = {}
        self._recorded: dict[str, set[tuple]] = {}  # recording rule → series it wrote last time
        self._due: dict[tuple[str, str], float] = {}  # rule → its group's next evaluation

    def evaluate(self, now: float, query: Callable[[str, float], list[tuple[dict, float]]]) -> list[RuleState]:
        """Run every rule at `now`; return the pending and firing ones (and the ones whose query failed)."""
        out: list[RuleState] = []
        for rule in self.rules:
            rk = (rule.name, rule.service or rule.origin)
            if rule.interval:  # a rule file group's interval: between its evaluations, as it was
                due = self._due.get(rk)
                if due is not None and due - rule.interval <= now < due:
                    if not rule.record:
                        out.extend(self._states(rk, rule))
                    elif rk in self._errors:
                        out.append(self._error_state(rk, rule))
                    continue
                self._due[rk] = now + rule.interval
            try:
                result = query(rule.expr, now - rule.query_offset)
                self._errors.pop(rk, None)
            except Exception as e:  # a bad series must not stop the other rules
                self._errors[rk] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
                result = None
            if rule.record:
                if result is not None:
                    self._write(rule, result, now)
                if rk in self._errors:
                    out.append(self._error_state(rk, rule))
                continue
            if result is not None:
                try:
                    self._step(rk, rule, result, now)
                except ValueError as e:  # a template that fails on this data: said, never blank
                    self._errors[rk] = f"{rule.origin or rule.name}: {e}".splitlines()[0][:200]
            out.extend(self._states(rk, rule))
        return out

    def _write(self, rule: Rule, result: list[tuple[dict, float]], now: float) -> None:
        static = {k: t.render({}, math.nan) for k, t in rule.labels}
        samples, keys = [], set()
        for labels, value in result:
            out = {k: v for k, v in labels.items() if k != "__name__"}
            out.update({k: v for k, v in static.items()})
            out = {k: v for k, v in out.items() if v}
            out["__name__"] = rule.name
            keys.add(tuple(sorted(out.items())))
            samples.append((out, now, value))
        from console.metrics.store import STALE_NAN

        for gone in self._recorded.get(rule.origin, set()) - keys:  # as Prometheus marks them stale
            samples.append((dict(gone), now, STALE_NAN))
        self._recorded[rule.origin] = keys
        if self.record is not None:
            self.record(samples)

    def _step(self, rk: tuple[str, str], rule: Rule, result: list[tuple[dict, float]], now: float) -> None:
        alerts = self._alerts.setdefault(rk, {})
        seen = set()
        for labels, value in result:
            info = {}
            if rule.origin:  # a rule file's alert: labels rendered, service from its job
                info = render_alert(rule, labels, value, self.context)
                lk = tuple(sorted(info["labels"].items()))
            else:
                lk = tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))
            seen.add(lk)
            a = alerts.get(lk)
            if a is None:
                a = alerts[lk] = Alert(active_since=now, labels=dict(lk))
            a.value, a.kept_since, a.info = value, None, info
            if a.fired_at is None and now - a.active_since >= rule.for_:
                a.fired_at = now
        for lk in [k for k in alerts if k not in seen]:
            a = alerts[lk]
            if a.fired_at is not None and rule.keep_firing_for > 0:
                if a.kept_since is None:
                    a.kept_since = now
                if now - a.kept_since < rule.keep_firing_for:
                    continue  # keep_firing_for: still firing on its last value and texts
            del alerts[lk]

    def _states(self, rk: tuple[str, str], rule: Rule) -> list[RuleState]:
        states = []
        for a in self._alerts.get(rk, {}).values():
            info = a.info
            states.append(RuleState(
                name=rule.name, service=info.get("service", rule.service),
                severity=info.get("severity", rule.severity),
                state="firing" if a.fired_at is not None else "pending",
                value=None if math.isnan(a.value) else a.value, labels=dict(a.labels),
                active_since=a.active_since, fired_at=a.fired_at,
                runbook=info.get("runbook", rule.runbook), summary=info.get("summary", rule.summary),
                expr=rule.expr, for_=rule.for_, actions=list(rule.actions),
                error=self._errors.get(rk), description=info.get("description", "")))
        if rk in self._errors and not states:
            states.append(self._error_state(rk, rule))
        return states

    def _error_state(self, rk: tuple[str, str], rule: Rule) -> RuleState:
        return RuleState(
            name=rule.name, service=rule.service, severity=rule.severity or "P3", state="error",
            value=None, labels={}, active_since=None, fired_at=None, runbook=rule.runbook,
            summary=rule.summary, expr=rule.expr, for_=rule.for_, actions=list(rule.actions),
            error=self._errors[rk])

    def active_alerts(self, name: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
        """(state, labels, annotations) of every active alert of the rules named `name`."""
        out = []
        for (rule_name, _), alerts in self._alerts.items():
            if rule_name != name:
                continue
            for a in alerts.values():
                out.append(("firing" if a.fired_at is not None else "pending", dict(a.labels),
                            dict(a.info.get("annotations", {}))))
        return out

    def reset(self) -> None:
        """Forget every alert (a replay seek rebuilds them from the recording)."""
        self._alerts.clear()
        self._errors.clear()
        self._recorded.clear()
        self._due.clear()

    # --- memento: what a rule remembers beyond the windows is when each alert began and fired ---------

    def snapshot(self) -> dict[str, Any]:
        """Each pending or firing alert as [rule, service, labels, active_since, fired_at, kept_since], in rule
        order (kept_since: keep_firing_for's clock; recordings before it have five fields).

        Not the value (the next evaluation recomputes it) nor query errors (the next evaluation retries):
        a snapshot changes only when an alert comes, goes or fires."""
        alerts = [[rule.name, rule.service, dict(a.labels), a.active_since, a.fired_at, a.kept_since]
                  for rule in self.rules for a in self._alerts.get((rule.name, rule.service), {}).values()]
        return {"v": SNAPSHOT_VERSION, "alerts": alerts}

    def restore(self, data: dict[str, Any]) -> None:
        check_version(data, "rule alerts")
        self.reset()
        for name, service, labels, since, fired, *kept in data["alerts"]:
            lk = tuple(sorted(labels.items()))
            self._alerts.setdefault((name, service), {})[lk] = Alert(since, fired, math.nan, dict(lk),
                                                                     kept_since=kept[0] if kept else None)
