"""ConsoleState: the one model of what the console knows (dashboard, snapshot, replay and tests read it)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class EndpointState:
    """One polled endpoint: its last good reading and its last error."""

    key: str
    data: dict | None = None  # normalized payload of the last good reading
    last_ok: float | None = None
    last_poll: float | None = None
    error: str | None = None  # one line, set while the endpoint is failing
    retry_at: float | None = None  # while failing: when it is polled again (shown as "retrying in Ns")
    warning: str | None = None  # readable but suspect, e.g. a counter that resets on most scrapes


@dataclass
class ServiceState:
    name: str
    kind: str
    title: str
    endpoints: dict[str, EndpointState] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)  # what the panel shows; None = unknown

    @property
    def error(self) -> str | None:
        """The first failing endpoint's error, prefixed with its key."""
        for ep in self.endpoints.values():
            if ep.error:
                return f"{ep.key}: {ep.error}"
        return None

    @property
    def warning(self) -> str | None:
        """The first endpoint's warning (shown when nothing is failing)."""
        return next((f"{ep.key}: {ep.warning}" for ep in self.endpoints.values() if ep.warning), None)

    @property
    def last_ok(self) -> float | None:
        """The most recent good reading of any endpoint: the service's last sign of life."""
        oks = [e.last_ok for e in self.endpoints.values() if e.last_ok is not None]
        return max(oks) if oks else None

    def retry_in(self, now: float) -> float | None:
        """Seconds until the first failing endpoint is tried again (None: not failing, or not known)."""
        for ep in self.endpoints.values():
            if ep.error:
                return None if ep.retry_at is None else max(0.0, ep.retry_at - now)
        return None

    def failing_since_ok(self, now: float) -> float | None:
        """Age of the last good reading of the first failing endpoint (None: never good)."""
        for ep in self.endpoints.values():
            if ep.error:
                return None if ep.last_ok is None else now - ep.last_ok
        return None

    def data(self, endpoint: str) -> dict:
        ep = self.endpoints.get(endpoint)
        return (ep.data if ep and ep.data else {}) or {}

    def age(self, now: float) -> float | None:
        """Seconds since the service's last good reading."""
        last = self.last_ok
        return None if last is None else max(0.0, now - last)


@dataclass
class RuleState:
    name: str
    service: str  # service name (not kind)
    severity: str
    state: str  # inactive | pending | firing
    value: float | None
    labels: dict[str, str]
    active_since: float | None  # when the condition started to hold
    fired_at: float | None  # when it became firing
    runbook: str
    summary: str
    expr: str
    for_: float
    actions: list[str] = field(default_factory=list)
    error: str | None = None  # evaluation error, one line
    description: str = ""  # a rule file's rendered `description` annotation (beside its summary)

    @property
    def key(self) -> str:
        """The alert identity: rule, service and the result's labels."""
        lbl = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()) if k not in ("job", "instance"))
        return f"{self.name}/{self.service}" + (f"{{{lbl}}}" if lbl else "")


@dataclass
class BackendState:
    """Where metric queries go: a Prometheus server, or the local store while it is unreachable."""

    url: str
    status: str = "connecting"  # connecting | ok | fallback (local store, direct scraping) | down (no fallback)
    #                             | recorded (a replay: the server's answers from the recording)
    error: str | None = None  # why the server is not used, one line
    since: float | None = None  # when the status began
    version: str | None = None  # the server's, from /api/v1/status/buildinfo
    remote: int = 0  # expressions sent to the server each tick
    local: int = 0  # expressions that read only console-derived opsconsole_* gauges: always local
    mixed: int = 0  # both: the server's raw samples are pulled and evaluated with the local gauges


@dataclass
class SharingState:
    """`[alertmanager] send`: how this console's rule alerts reach Alertmanager (console/incidents/sender.py)."""

    targets: int  # Alertmanagers every alert goes to
    sent: int = 0  # alerts delivered (to at least one Alertmanager, as Prometheus counts a batch sent)
    failures: int = 0  # batches no Alertmanager accepted; their alerts go again at the next resend
    dropped: int = 0  # alerts dropped because the queue was full (oldest first)
    queued: int = 0  # alerts waiting to be posted
    error: str | None = None  # the last failure, one line; None once a batch goes through again
    last_ok: float | None = None  # when a batch was last delivered


@dataclass
class ActionRecord:
    """One attempted mitigation, as the Activity panel shows it (console/executor.py keeps it current)."""

    seq: int
    ts: float
    action: str  # action id
    title: str
    service: str
    environment: str
    target: str | None  # the picked item ("daily-digest"), or None
    summary: str  # what is sent, without secrets
    status: str  # sending | verifying | propagating | confirmed | failed | refused | cancelled
    code: int | None = None  # HTTP status (or a command's exit code)
    answer: str = ""  # one line: the service's answer, the error, or why it was refused
    proof: str = ""  # what the re-poll after sending saw (the proving state, or why it is missing)
    updated: float | None = None
    inverse_of: int | None = None  # seq of the action this one undoes


@dataclass
class ConsoleState:
    ts: float
    environment: str
    read_only: bool
    mode: str  # live | replay
    services: dict[str, ServiceState] = field(default_factory=dict)
    rules: list[RuleState] = field(default_factory=list)  # pending and firing only
    trends: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    scenario: str | None = None
    actions: list[ActionRecord] = field(default_factory=list)  # recent mitigations, newest first
    backend: BackendState | None = None  # None: metrics scraped directly (no [prometheus])
    incidents: list = field(default_factory=list)  # console.incidents.manager.Incident, open first (IncidentManager.visible)
    engine_error: str | None = None  # the last failure of a tick or a background task, one line (console/tasks.py)
    engine_error_at: float | None = None
    sharing: SharingState | None = None  # None: this console sends no alerts ([alertmanager] send off)
    stale_acks: list[dict] = field(default_factory=list)  # ack silences matching no alert: id, service, by, ...
    rewind: Any = None  # console.rewind.RewindState while the live display is rewound (not in the JSON document)
    viewers: int | None = None  # `opsconsole serve`: viewers attached to the collector (None: not served)
    link: str | None = None  # an attached viewer's link to its collector when broken: "disconnected since HH:MM:SS"

    def active(self) -> list[RuleState]:
        """Firing first, then pending; newest first within each."""
        order = {"firing": 0, "pending": 1}
        return sorted(
            (r for r in self.rules if r.state in order),
            key=lambda r: (order[r.state], -(r.fired_at or r.active_since or 0)),
        )

    @property
    def firing(self) -> list[RuleState]:
        return [r for r in self.rules if r.state == "firing"]

    def to_json(self) -> dict[str, Any]:
        """The document `opsconsole snapshot --json` prints: strict JSON (NaN and ±Inf are null, with a reason)."""
        unusable: dict[str, str] = {}
        services = {}
        for name, s in self.services.items():
            services[name] = {
                "kind": s.kind,
                "title": s.title,
                "status": "error" if s.error else ("ok" if s.last_ok is not None else "unknown"),
                "error": s.error,
                "age_seconds": None if s.age(self.ts) is None else round(s.age(self.ts), 3),
                "figures": s.figures,
                "endpoints": {
                    k: {"ok": e.error is None and e.last_ok is not None, "error": e.error,
                        "warning": e.warning,
                        "retry_in_seconds": None if e.error is None or e.retry_at is None
                        else round(max(0.0, e.retry_at - self.ts), 3),
                        "age_seconds": None if e.last_ok is None else round(self.ts - e.last_ok, 3)}
                    for k, e in s.endpoints.items()
                },
            }
        rules = []
        for r in self.active():
            d = asdict(r)
            d["for"] = d.pop("for_")
            d["key"] = r.key
            rules.append(d)
        doc = {
            "ts": self.ts,
            "environment": self.environment,
            "read_only": self.read_only,
            "mode": self.mode,
            "scenario": self.scenario,
            "services": services,
            "rules": rules,
            "firing": len(self.firing),
            "actions": [asdict(a) for a in self.actions],
            "metrics_backend": asdict(self.backend) if self.backend else {"status": "local"},
            "incidents": [i.to_json(self.ts) for i in self.incidents],
            "engine_error": self.engine_error,
            "sharing": asdict(self.sharing) if self.sharing else None,
            "stale_acks": list(self.stale_acks),
        }
        doc = _strict(doc, "", unusable)
        doc["non_finite"] = unusable  # where a null above stands for NaN or ±Inf: {"path": "NaN"}
        return doc


def _strict(value: Any, path: str, notes: dict[str, str]) -> Any:
    """`value` with NaN and ±Inf replaced by None, each noted by its path (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        notes[path] = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        return None
    if isinstance(value, dict):
        return {k: _strict(v, f"{path}.{k}" if path else str(k), notes) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v, f"{path}[{i}]", notes) for i, v in enumerate(value)]
    return value
