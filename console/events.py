"""Typed events on one hub: what the engine, incidents and mitigations announce, and who listens (recorder, UI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar

if TYPE_CHECKING:
    from .state import ActionRecord, ConsoleState, RuleState

E = TypeVar("E")


@dataclass(frozen=True)
class Tick:
    """An evaluation begins at `ts`: this tick's readings are ingested, rules are not evaluated yet.

    Work that reads the fresh readings and must be in this tick's published state runs here (a
    mitigation's verification by re-poll)."""

    ts: float
    kind: ClassVar[str] = "tick"

    def data(self) -> dict[str, Any]:
        return {"ts": self.ts}


@dataclass(frozen=True)
class RuleTransition:
    """An alert moved between inactive, pending and firing; `rule` is its state now (None when inactive)."""

    key: str
    name: str
    service: str
    severity: str | None
    from_: str
    to: str
    value: float | None
    ts: float
    rule: "RuleState | None" = field(default=None, compare=False)
    kind: ClassVar[str] = "rule"

    def data(self) -> dict[str, Any]:
        """The recording's `rule` event."""
        return {"key": self.key, "name": self.name, "service": self.service, "severity": self.severity,
                "from": self.from_, "to": self.to, "value": self.value, "ts": self.ts}


@dataclass(frozen=True)
class IncidentChanged:
    """An incident was opened, moved, or had an entry added to its timeline."""

    id: str
    key: str
    event: str
    state: str
    severity: str
    title: str
    service: str
    who: str | None
    text: str
    ts: float
    kind: ClassVar[str] = "incident"

    def data(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "event": self.event, "state": self.state, "severity": self.severity,
                "title": self.title, "service": self.service, "who": self.who, "text": self.text, "ts": self.ts}


@dataclass(frozen=True)
class MitigationAudited:
    """One row of the audit log: a mitigation was refused, cancelled, sent, confirmed, or failed."""

    ts: float
    user: str
    environment: str
    service: str
    action: str
    target: str | None
    attempt: int
    result: str
    summary: str
    detail: str
    kind: ClassVar[str] = "audit"

    def data(self) -> dict[str, Any]:
        return {"ts": self.ts, "user": self.user, "environment": self.environment, "service": self.service,
                "action": self.action, "target": self.target, "attempt": self.attempt, "result": self.result,
                "summary": self.summary, "detail": self.detail}


@dataclass(frozen=True)
class MitigationChanged:
    """A mitigation's record changed between ticks (sending, verifying...): a view redraws."""

    record: "ActionRecord"


@dataclass(frozen=True)
class StatePublished:
    """The evaluation at `state.ts` is complete: everything in the state is of this tick."""

    state: "ConsoleState"


class Hub:
    """Delivers each event to the subscribers of its type, in the order they subscribed."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Callable[[Any], None]]] = {}
        # where a subscriber's exception goes (the engine shows it in the header); None: it propagates
        self.on_error: Callable[[str, BaseException], None] | None = None

    def subscribe(self, event_type: type[E], fn: Callable[[E], None]) -> Callable[[], None]:
        """Call `fn` with every published `event_type`; returns the call that unsubscribes it."""
        subs = self._subscribers.setdefault(event_type, [])
        subs.append(fn)

        def unsubscribe() -> None:
            if fn in subs:
                subs.remove(fn)

        return unsubscribe

    def publish(self, event: object) -> None:
        # a copy: a subscriber may unsubscribe (or subscribe another) while the event is delivered
        for fn in list(self._subscribers.get(type(event), ())):
            if self.on_error is None:
                fn(event)
                continue
            try:
                fn(event)
            except Exception as e:  # noqa: BLE001 - one subscriber must not starve the others
                self.on_error(type(event).__name__, e)
