"""Sends the console's firing rule alerts to Alertmanager the way Prometheus's rule manager and notifier do.

Followed from Prometheus (rules/alerting.go, rules/manager.go, notifier/notifier.go):
* pending alerts are never sent; a firing alert is sent when first seen, then again once `resend` has
  passed since it was last sent (`Alert.needsSending`); one that resolved since its last send goes at once;
* a firing alert's endsAt is now + 4 × max(evaluation interval, resend) (`AlertingRule.sendAlerts`:
  `ValidUntil`), a resolved one's endsAt is when it resolved (`rules.SendAlerts`); startsAt is when it fired;
* a resolved alert is kept, and re-sent, for 15 minutes (`resolvedRetention`);
* the queue is bounded: when full the oldest alerts are dropped and counted (`Manager.Send`); batches of at
  most 64 (`maxBatchSize`) go to every Alertmanager, and a batch counts as sent when one accepted it
  (`sendAll`). A failed batch is not retried by itself: its alerts go again at their next resend.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable
from urllib.parse import quote

from console.clock import Clock, utc_iso
from console.config.schema import Service
from console.events import Hub, StatePublished
from console.sources import alertmanager as am
from console.sources.base import SourceError
from console.state import ConsoleState, SharingState

from .shared import alert_labels, incident_id

if TYPE_CHECKING:
    import httpx

    from console.config.schema import Config

log = logging.getLogger(__name__)
RESOLVED_RETENTION = 900.0  # rules/alerting.go resolvedRetention = 15 * time.Minute
MAX_BATCH = 64  # notifier/notifier.go maxBatchSize


@dataclass
class SentAlert:
    """One alert instance as the sender keeps it (Prometheus's rules.Alert, the fields sending needs)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    generator: str
    fired_at: float
    resolved_at: float | None = None
    last_sent: float | None = None
    delivered: bool | None = None  # the last batch holding it: accepted (True), refused everywhere (False)

    def needs_sending(self, now: float, resend: float) -> bool:
        if self.last_sent is None:
            return True
        if self.resolved_at is not None and self.resolved_at > self.last_sent:
            return True  # resolved since the last send: tell Alertmanager now
        return self.last_sent + resend < now

    def payload(self, now: float, valid_for: float) -> dict:
        ends = self.resolved_at if self.resolved_at is not None else now + valid_for
        return {"labels": self.labels, "annotations": self.annotations, "startsAt": utc_iso(self.fired_at),
                "endsAt": utc_iso(ends), "generatorURL": self.generator}


class AlertSender:
    """Subscribed on the hub: each published state updates the alerts and queues what is due; a task posts them.

    Nothing here waits on the network inside a tick: the tick only appends to a bounded queue."""

    def __init__(self, hub: Hub, clock: Clock, cfg: "Config", http: "Callable[[], httpx.AsyncClient | None]") -> None:
        conf = cfg.alertmanager
        assert conf is not None and conf.send
        self.clock = clock
        self.http = http
        self.resend = conf.resend
        self.valid_for = 4 * max(cfg.tick, conf.resend)
        self.capacity = conf.queue
        urls = conf.urls or [s.url for s in cfg.services if s.kind == "alertmanager"]
        auths = [conf.auth] * len(conf.urls) or [s.auth for s in cfg.services if s.kind == "alertmanager"]
        self.targets = [Service(name=f"alertmanager {i + 1}", kind="alertmanager", url=u, auth=a, timeout=conf.timeout)
                        for i, (u, a) in enumerate(zip(urls, auths))]
        name = conf.name or socket.gethostname()
        self.generator_base = f"opsconsole://{quote(name, safe='')}/{quote(cfg.environment, safe='')}/rules/"
        self.alerts: dict[str, SentAlert] = {}  # incident id (from the label set) → the alert
        self.queue: deque[tuple[str, dict]] = deque()
        self.state = SharingState(targets=len(self.targets))
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None
        self._unsubscribe = hub.subscribe(StatePublished, lambda ev: self.observe(ev.state))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._drain(), name="alert-sender")

    async def stop(self) -> None:
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def idle(self) -> None:
        """Wait until everything queued has been posted (or failed): tests and a clean shutdown use it."""
        await self._idle.wait()

    # --- each published state: rule alerts in, due alerts queued, sharing shown -------------------

    def observe(self, state: ConsoleState) -> None:
        now = state.ts
        firing = {}
        for rule in state.rules:
            if rule.state == "firing":
                labels = alert_labels(rule)
                firing[incident_id(labels)] = (rule, labels)
        for iid, (rule, labels) in firing.items():
            alert = self.alerts.get(iid)
            annotations = {"summary": rule.summary, "runbook": rule.runbook}
            if alert is None or alert.resolved_at is not None:
                # as Prometheus: a resolved alert that fires again is a new alert (new startsAt, sent at once)
                self.alerts[iid] = SentAlert(labels, annotations, self.generator_base + quote(rule.name, safe=""),
                                             rule.fired_at or now)
            else:
                alert.annotations = annotations
        for iid, alert in list(self.alerts.items()):
            if iid not in firing and alert.resolved_at is None:
                alert.resolved_at = now
            if alert.resolved_at is not None and now - alert.resolved_at > RESOLVED_RETENTION:
                del self.alerts[iid]
        for iid, alert in self.alerts.items():
            if alert.needs_sending(now, self.resend):
                alert.last_sent = now
                self._enqueue(iid, alert.payload(now, self.valid_for))
        self.state.queued = len(self.queue)
        state.sharing = self.state
        for inc in state.incidents:
            alert = self.alerts.get(inc.key)
            if alert is not None and alert.resolved_at is None:
                inc.shared = {True: "shared", None: "sending"}.get(alert.delivered,
                                                                    f"not shared: {self.state.error or 'not sent'}")

    def _enqueue(self, iid: str, payload: dict) -> None:
        while len(self.queue) >= self.capacity:
            self.queue.popleft()  # notifier: the oldest go first when the queue is full
            self.state.dropped += 1
        self.queue.append((iid, payload))
        self._idle.clear()
        self._wake.set()

    # --- the drain task -----------------------------------------------------------------------

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.queue:
                batch = [self.queue.popleft() for _ in range(min(MAX_BATCH, len(self.queue)))]
                self.state.queued = len(self.queue)
                try:
                    await self._post(batch)
                except Exception:  # noqa: BLE001 - the sender must outlive any one batch
                    log.exception("alert sender: batch failed")
            self._idle.set()

    async def _post(self, batch: list[tuple[str, dict]]) -> None:
        client = self.http()
        payload = [p for _, p in batch]
        errors = []
        if client is None:
            errors.append("console not started")
        else:
            results = await asyncio.gather(*(am.post_alerts(client, t, payload) for t in self.targets),
                                           return_exceptions=True)
            for target, r in zip(self.targets, results):
                if isinstance(r, SourceError):
                    errors.append(f"{target.url}: {r}")
                elif isinstance(r, BaseException):
                    errors.append(f"{target.url}: {type(r).__name__}")
        delivered = len(errors) < len(self.targets) and client is not None
        for iid, _ in batch:
            alert = self.alerts.get(iid)
            if alert is not None:
                alert.delivered = delivered
        if delivered:
            self.state.sent += len(batch)
            self.state.last_ok = self.clock.now()
            self.state.error = None
        else:
            self.state.failures += 1
            self.state.error = errors[0] if errors else "no Alertmanager"
            log.info("alerts not sent: %s", self.state.error)
