"""The alerting-rule lifecycle, as Prometheus runs it: inactive → pending → firing, per result series."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from console.memento import SNAPSHOT_VERSION, check_version
from console.state import RuleState

from .load import Rule


@dataclass
class Alert:
    """One series of one rule while its condition holds."""

    active_since: float
    fired_at: float | None = None
    value: float = math.nan
    labels: dict[str, str] = field(default_factory=dict)


class RuleEvaluator:
    """Prometheus's alerting-rule lifecycle: inactive → pending (condition holds) → firing (held `for`)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._alerts: dict[tuple[str, str], dict[tuple, Alert]] = {}
        self._errors: dict[tuple[str, str], str] = {}

    def evaluate(self, now: float, query: Callable[[str, float], list[tuple[dict, float]]]) -> list[RuleState]:
        """Run every rule at `now`; return the pending and firing ones (and the ones whose query failed)."""
        out: list[RuleState] = []
        for rule in self.rules:
            rk = (rule.name, rule.service)
            try:
                result = query(rule.expr, now)
                self._errors.pop(rk, None)
            except Exception as e:  # a bad series must not stop the other rules
                self._errors[rk] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
                result = None
            if result is not None:
                self._step(rk, rule, result, now)
            out.extend(self._states(rk, rule))
        return out

    def _step(self, rk: tuple[str, str], rule: Rule, result: list[tuple[dict, float]], now: float) -> None:
        alerts = self._alerts.setdefault(rk, {})
        seen = set()
        for labels, value in result:
            lk = tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))
            seen.add(lk)
            a = alerts.get(lk)
            if a is None:
                a = alerts[lk] = Alert(active_since=now, labels=dict(lk))
            a.value = value
            if a.fired_at is None and now - a.active_since >= rule.for_:
                a.fired_at = now
        for lk in [k for k in alerts if k not in seen]:
            del alerts[lk]

    def _states(self, rk: tuple[str, str], rule: Rule) -> list[RuleState]:
        states = []
        for a in self._alerts.get(rk, {}).values():
            states.append(RuleState(
                name=rule.name, service=rule.service, severity=rule.severity,
                state="firing" if a.fired_at is not None else "pending",
                value=None if math.isnan(a.value) else a.value, labels=dict(a.labels),
                active_since=a.active_since, fired_at=a.fired_at, runbook=rule.runbook,
                summary=rule.summary, expr=rule.expr, for_=rule.for_, actions=list(rule.actions),
                error=self._errors.get(rk)))
        if rk in self._errors and not states:
            states.append(RuleState(
                name=rule.name, service=rule.service, severity=rule.severity, state="error",
                value=None, labels={}, active_since=None, fired_at=None, runbook=rule.runbook,
                summary=rule.summary, expr=rule.expr, for_=rule.for_, actions=list(rule.actions),
                error=self._errors[rk]))
        return states

    def reset(self) -> None:
        """Forget every alert (a replay seek rebuilds them from the recording)."""
        self._alerts.clear()
        self._errors.clear()

    # --- memento: what a rule remembers beyond the windows is when each alert began and fired ---------

    def snapshot(self) -> dict[str, Any]:
        """Each pending or firing alert as [rule, service, labels, active_since, fired_at], in rule order.

        Not the value (the next evaluation recomputes it) nor query errors (the next evaluation retries):
        a snapshot changes only when an alert comes, goes or fires."""
        alerts = [[rule.name, rule.service, dict(a.labels), a.active_since, a.fired_at]
                  for rule in self.rules for a in self._alerts.get((rule.name, rule.service), {}).values()]
        return {"v": SNAPSHOT_VERSION, "alerts": alerts}

    def restore(self, data: dict[str, Any]) -> None:
        check_version(data, "rule alerts")
        self.reset()
        for name, service, labels, since, fired in data["alerts"]:
            lk = tuple(sorted(labels.items()))
            self._alerts.setdefault((name, service), {})[lk] = Alert(since, fired, math.nan, dict(lk))
