"""Incidents: opened by firing rules, Alertmanager alerts and failed path-tracker deliveries; their lifecycle."""

from __future__ import annotations

import logging
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, Callable

from . import openers as incident_sources
from console.clock import Clock, utc_iso
from console.events import Hub, IncidentChanged, MitigationAudited, RuleTransition
from console.memento import SNAPSHOT_VERSION, check_version
from .model import (ALLOWED, OPEN, REOPEN_GRACE, STARTUP_GRACE, STATES, TARGETS, UPDATE_EVERY, Entry,
                             Incident, IncidentError, Timer, whoami)
from console.rules.load import shipped as shipped_rules
from .ack_silences import AckSilences
from .shared import ack_comment, alert_labels, incident_id
from console.sources import alertmanager as am
from console.sources.base import SourceError

if TYPE_CHECKING:
    import httpx

    from console.config.schema import Config
    from console.rules.load import Rule
    from .store import IncidentStore

__all__ = ["ALLOWED", "OPEN", "REOPEN_GRACE", "STATES", "TARGETS", "UPDATE_EVERY", "Entry", "Incident",
           "IncidentError", "IncidentManager", "Timer", "whoami"]
log = logging.getLogger(__name__)


class IncidentManager:
    """Opens, reopens and recovers incidents from the hub's events and each state; runs the human transitions.

    `http` gives the pooled client (for Alertmanager silences) once the session has started; `expedite`
    polls a service at the next tick; `read_only` (a read-only config, or a replay) sends nothing.
    """

    def __init__(self, hub: Hub, clock: Clock, cfg: "Config", rules: "list[Rule]", *,
                 http: "Callable[[], httpx.AsyncClient | None]", expedite: Callable[..., None],
                 read_only: bool = False, store: "IncidentStore | None" = None, user: str | None = None) -> None:
        self.hub = hub
        self.clock = clock
        self.cfg = cfg
        self.http = http
        self.expedite = expedite
        self.read_only = read_only
        self.store = store
        self.user = user or whoami()
        self.incidents: dict[str, Incident] = {}
        self._by_key: dict[str, Incident] = {}  # key → its latest incident
        self._seq = 0
        self._started: float | None = None
        self.persist_error: str | None = None  # why incidents are kept in memory only
        self.action_results: dict[tuple[str, str], tuple[float, str]] = {}  # (service, action) → (ts, outcome)
        # an Alertmanager alert named like a rule (HighErrorRate, ServiceDown...) gets that rule's playbook
        self._runbooks = {r["name"]: r.get("runbook", "") for r in shipped_rules()}
        self._runbooks.update({r.name: r.runbook for r in rules})
        # [alertmanager] send: an incident's id and key come from its alert's label set, so every console
        # pointed at the same Alertmanager shows the same incident (console/incidents/sender.py sends them)
        self.share = bool(cfg.alertmanager and cfg.alertmanager.send)
        self._shared_keys: dict[str, str] = {}  # rule key → shared key (the incident id of its label set)
        self.acks = AckSilences(cfg, clock, http, expedite, note=self._note, read_only=read_only)
        self._unsubscribe = [hub.subscribe(RuleTransition, self._on_rule),
                             hub.subscribe(MitigationAudited, self._on_audit)]

    # --- start, stop, persistence -----------------------------------------------------------

    async def start(self) -> None:
        self._started = self.clock.now()
        if self.store is None:
            return
        try:
            await self.store.open()
        except Exception as e:  # noqa: BLE001 - busy or unwritable: incidents still work, in memory
            self.persist_error = str(e).splitlines()[0] if str(e) else type(e).__name__
            log.info("incidents not persisted: %s", self.persist_error)
            await self.store.close()
            self.store = None
            return
        self._seq = await self.store.max_number()
        for inc in await self.store.load(self.cfg.environment, self._started - REOPEN_GRACE):
            self._add(inc)

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        await self.acks.stop()
        if self.store is not None:
            await self.store.close()

    def reset(self) -> None:
        """Forget everything in memory (a replay seek rebuilds incidents from the recording)."""
        self.incidents.clear()
        self._by_key.clear()
        self._shared_keys.clear()
        self.action_results.clear()

    # --- memento: everything above, as plain data (a recording's keyframe, a replay seek) -----------

    def snapshot(self) -> dict[str, Any]:
        return {"v": SNAPSHOT_VERSION, "incidents": [asdict(i) for i in self.incidents.values()], "seq": self._seq,
                "by_key": {k: i.id for k, i in self._by_key.items()}, "started": self._started,
                "results": [[s, a, t, o] for (s, a), (t, o) in self.action_results.items()],
                "shared_keys": dict(self._shared_keys)}

    def restore(self, data: dict[str, Any]) -> None:
        check_version(data, "incidents")
        self.reset()
        for d in data["incidents"]:
            timeline = [Entry(**_known(Entry, e)) for e in d["timeline"]]
            inc = Incident(**{**_known(Incident, d), "timeline": timeline})
            self.incidents[inc.id] = inc
        self._by_key = {k: self.incidents[i] for k, i in data["by_key"].items() if i in self.incidents}
        self._seq, self._started = data["seq"], data["started"]
        self.action_results = {(s, a): (t, o) for s, a, t, o in data["results"]}
        self._shared_keys = dict(data.get("shared_keys") or {})  # absent in snapshots from before sharing

    def _add(self, inc: Incident) -> None:
        self.incidents[inc.id] = inc
        prev = self._by_key.get(inc.key)
        if prev is None or prev.opened_at <= inc.opened_at:
            self._by_key[inc.key] = inc

    def _changed(self, inc: Incident, event: str, entry: Entry | None = None) -> None:
        if self.store is not None:
            self.store.save(inc)
        self.hub.publish(IncidentChanged(inc.id, inc.key, event, inc.state, inc.severity, inc.title, inc.service,
                                         entry.who if entry else None, entry.text if entry else "",
                                         entry.ts if entry else self.clock.now()))

    def _note(self, inc: Incident, text: str) -> None:
        self._log(inc, Entry(self.clock.now(), "note", text))

    def _log(self, inc: Incident, entry: Entry, event: str | None = None) -> Entry:
        inc.timeline.append(entry)
        self._changed(inc, event or entry.kind, entry)
        return entry

    # --- opening ----------------------------------------------------------------------------

    def open_or_refire(self, spec: dict, now: float, why: str) -> Incident:
        """The one way an alert becomes an incident: new, firing again, or reopened within the grace."""
        inc = self._by_key.get(spec["key"])
        if inc is not None and inc.is_open:
            if inc.recovered_at is not None:
                inc.recovered_at = None
                self._log(inc, Entry(now, "firing", f"firing again: {why}"))
            return inc
        if inc is not None and inc.recovered_at is None:
            return inc  # resolved by a human while still firing: it stays resolved until it clears
        resolved = inc.resolved_at if inc is not None else None
        if inc is not None and resolved is not None and now - resolved <= REOPEN_GRACE:
            inc.recovered_at = None
            inc.state = "triggered"
            self._log(inc, Entry(now, "state", f"reopened: {why}", "console", "triggered"), "reopened")
            return inc
        fields = {k: v for k, v in spec.items() if k in Incident.__dataclass_fields__ and k != "id"}
        iid = spec.get("id")
        if iid is None:
            self._seq += 1
            iid = f"INC-{self._seq}"
        elif iid in self.incidents:  # an older occurrence of the same label set keeps its id and record
            iid = next(f"{iid}-{n}" for n in range(2, 10_000) if f"{iid}-{n}" not in self.incidents)
        inc = Incident(id=iid, opened_at=now, **fields)
        self._add(inc)
        self._log(inc, Entry(now, "state", f"opened: {why}", "console", "triggered"), "opened")
        return inc

    def _on_rule(self, ev: RuleTransition) -> None:
        key, now, value = ev.key, ev.ts, ev.value
        shown = "?" if value is None else f"{value:.4g}"
        if ev.to == "firing":
            rule = ev.rule
            if rule is None:
                return
            spec = incident_sources.rule_spec(rule)
            if self.share:
                spec["alert_labels"] = alert_labels(rule)
                spec["key"] = spec["id"] = self._shared_keys[key] = incident_id(spec["alert_labels"])
            inc = self.open_or_refire(spec, now, f"{rule.name} firing, value {shown}")
            inc.value = value
            held = rule.active_since is not None and rule.active_since < now  # a `for` it had to hold first
            if held and not any(e.kind == "crossing" and e.ts >= rule.active_since for e in inc.timeline):
                self._log(inc, Entry(rule.active_since, "crossing", "condition true (crossed the threshold)"))
            return
        inc = self._by_key.get(self._shared_keys.get(key, key))
        if inc is None:
            return
        if ev.to == "pending":
            self._log(inc, Entry(now, "crossing", f"crossed the threshold again, value {shown} (pending)"))
        elif ev.to == "inactive":
            self._recovered(inc, now, "condition no longer holds" if ev.from_ == "firing"
                            else "back under the threshold before firing again")

    def _recovered(self, inc: Incident, now: float, why: str) -> None:
        if inc.recovered_at is None:
            inc.recovered_at = now
            self._log(inc, Entry(now, "recovered", f"recovered: {why}"))
            self.acks.expire_on_resolve(inc)

    def _on_audit(self, ev: MitigationAudited) -> None:
        """A mitigation ran (the audit log of the actions issue): note it on the service's open incidents."""
        action, service = ev.action, ev.service
        if not action:
            return
        ts = ev.ts or self.clock.now()
        target = f" {ev.target}" if ev.target else ""
        outcome = str(ev.result or "done") + (f" ({ev.detail})" if ev.detail else "")
        outcome = outcome if len(outcome) <= 120 else outcome[:119] + "…"
        self.action_results[(service, action)] = (ts, outcome)
        for inc in self.incidents.values():
            if inc.is_open and inc.service == service:
                self._log(inc, Entry(ts, "action", f"{action}{target}: {outcome}", ev.user))

    # --- each evaluation: external sources and recovery ---------------------------------------

    def evaluate(self, state, now: float) -> None:
        """Sync Alertmanager and the path trackers' deliveries, settle recoveries, publish into the state."""
        for svc in state.services.values():
            if svc.kind == "alertmanager":
                self._sync_alertmanager(svc, now)
            elif svc.kind == "path_tracker":
                self._sync_deliveries(svc, now)
        if self._started is not None and now - self._started >= STARTUP_GRACE:
            active = {self._key_of(r) for r in state.rules if r.state in ("pending", "firing")}
            for inc in list(self.incidents.values()):
                if inc.source == "rule" and inc.recovered_at is None and inc.key not in active \
                        and self._by_key.get(inc.key) is inc:
                    self._recovered(inc, now, "rule not firing")
        state.incidents = self.visible()
        state.stale_acks = list(self.stale_acks)

    def _key_of(self, rule) -> str:
        return incident_id(alert_labels(rule)) if self.share else rule.key

    def visible(self) -> list[Incident]:
        """Open incidents first (by severity, newest first), then resolved ones awaiting documentation."""
        shown = [i for i in self.incidents.values() if i.state != "documented"]
        return sorted(shown, key=lambda i: (not i.is_open, i.severity, -i.opened_at))

    def _sync_alertmanager(self, svc, now: float) -> None:
        fresh = incident_sources.fresh(svc, "alerts")
        if fresh is None:
            return  # down or garbage: keep what we know, the source bar shows the error
        silences = {s["id"]: s for s in (svc.data("silences").get("silences") or []) if s.get("id")}
        seen, silenced = set(), set()
        for alert in svc.data("alerts").get("alerts") or []:
            spec = incident_sources.alertmanager_spec(svc.name, alert, self._runbooks)
            silenced.update(alert.get("silenced_by") or [])
            if self.share:  # the same label set is the same incident, whichever console raised it
                spec["alert_labels"] = dict(alert["labels"])
                spec["key"] = spec["id"] = incident_id(spec["alert_labels"])
            seen.add(spec["key"])
            own = self._by_key.get(spec["key"])
            if own is not None and own.source == "rule" and own.is_open:
                # this console's rule raised it: the rule decides firing and recovery, Alertmanager the ack
                self._sync_silence(svc, own, alert, silences, fresh, now)
                self.acks.extend_if_due(svc.name, own, silences, now)
                continue
            inc = self.open_or_refire(spec, now, f"Alertmanager alert {alert['labels'].get('alertname', '?')} active"
                                      f" since {alert.get('starts_at') or '?'}")
            if inc.info != spec["info"]:  # e.g. active → suppressed: shown, and kept, not a timeline entry
                inc.info = spec["info"]
                if self.store is not None:
                    self.store.save(inc)
            self._sync_silence(svc, inc, alert, silences, fresh, now)
            if self.share:
                self.acks.extend_if_due(svc.name, inc, silences, now)
        for inc in list(self.incidents.values()):
            if inc.source == "alertmanager" and inc.service == svc.name and inc.key not in seen:
                self._recovered(inc, now, "alert no longer active in Alertmanager")
        if incident_sources.fresh(svc, "silences") is not None:
            self.acks.scan(svc.name, silences, silenced)

    async def expire_stale(self, silence_id: str, who: str | None = None) -> dict:
        """Expire an ack silence that matches no alert (listed in stale_acks)."""
        return await self.acks.expire_stale(silence_id, who or self.user)

    @property
    def stale_acks(self) -> list[dict]:
        return self.acks.stale

    def _sync_silence(self, svc, inc: Incident, alert: dict, silences: dict, polled_at: float, now: float) -> None:
        """A silence on the alert is an acknowledgement, whoever created it; its end un-acknowledges."""
        last_change = max((e.ts for e in inc.timeline if e.kind == "state"), default=inc.opened_at)
        if polled_at < last_change:
            return  # this poll started before our own ack/un-ack: it cannot know about it yet
        ids = alert.get("silenced_by") or []
        if any(s not in silences for s in ids) and incident_sources.fresh(svc, "silences") is not None:
            return  # a silence newer than our last silences poll: wait one poll to learn who made it
        ids = [s for s in ids if silences.get(s, {}).get("state", "active") == "active"]
        if ids and inc.state == "triggered":
            sil = silences.get(ids[0], {})
            inc.silence_id = ids[0]
            until = f" until {sil['ends_at']}" if sil.get("ends_at") else ""
            inc.state = "acknowledged"
            self._log(inc, Entry(now, "state", f"acknowledged in Alertmanager: silence {ids[0]}{until}"
                                 + (f" ({sil['comment']})" if sil.get("comment") else ""),
                                 sil.get("created_by") or "alertmanager", "acknowledged"), "acknowledged")
        elif not ids and inc.silence_id:
            gone = inc.silence_id
            inc.silence_id = None
            if inc.state == "acknowledged":
                inc.state = "triggered"
                self._log(inc, Entry(now, "state", f"unacknowledged: silence {gone} expired", "alertmanager",
                                     "triggered"), "unacknowledged")
            else:
                self._log(inc, Entry(now, "note", f"silence {gone} expired"))

    def _sync_deliveries(self, svc, now: float) -> None:
        if incident_sources.fresh(svc, "alerts") is None:
            return
        data = svc.data("alerts")
        items = data.get("items") or []
        seen = set()
        for item in items:
            spec = incident_sources.delivery_spec(svc.name, item, now)
            if spec is None:
                continue
            seen.add(spec["key"])
            self.open_or_refire(spec, now, f"delivery {item.get('id')} failed: {item.get('errorText') or '?'}")
        complete = data.get("total") is not None and data["total"] <= len(items)
        for inc in list(self.incidents.values()):
            if inc.source == "path_tracker" and inc.service == svc.name and inc.key not in seen and complete:
                self._recovered(inc, now, "delivery no longer failed (retried or sent)")

    # --- human transitions --------------------------------------------------------------------

    def get(self, incident_id: str) -> Incident:
        inc = self.incidents.get(incident_id)
        if inc is None:
            raise IncidentError(f"no incident {incident_id}")
        return inc

    def _move(self, inc: Incident, verb: str, text: str, who: str | None) -> Entry:
        states, target = ALLOWED[verb]
        if inc.state not in states:
            raise IncidentError(f"{inc.id} is {inc.state}: cannot {verb}")
        inc.state = target
        return self._log(inc, Entry(self.clock.now(), "state", text, who or self.user, target), verb)

    async def acknowledge(self, incident_id: str, comment: str = "", duration: float = 3600.0,
                          who: str | None = None) -> Incident:
        """Acknowledge; an Alertmanager incident gets a silence first (so every console sees it)."""
        inc = self.get(incident_id)
        who = who or self.user
        if inc.state != "triggered":
            raise IncidentError(f"{inc.id} is {inc.state}: cannot acknowledge")
        text = "acknowledged" + (f": {comment}" if comment else "")
        service = self.acks.service_for(inc)
        if service is not None:
            now = self.clock.now()
            note = (ack_comment(inc.id, who, comment) if self.share
                    else comment or f"acknowledged {inc.id} in opsconsole")
            sid = await self._alertmanager(inc, am.create_silence, inc.alert_labels or inc.labels, now,
                                           now + duration, who, note, service=service)
            inc.silence_id = sid
            text += f" (silence {sid} until {utc_iso(now + duration)})"
            if inc.state != "triggered":
                return inc  # a poll saw the new silence while we waited for the answer: already acknowledged
        self._move(inc, "acknowledge", text, who)
        return inc

    async def unacknowledge(self, incident_id: str, who: str | None = None) -> Incident:
        inc = self.get(incident_id)
        if inc.state != "acknowledged":
            raise IncidentError(f"{inc.id} is {inc.state}: cannot unacknowledge")
        text = "unacknowledged"
        service = self.acks.service_for(inc)
        if service is not None and inc.silence_id:
            await self._alertmanager(inc, am.expire_silence, inc.silence_id, service=service)
            text += f" (silence {inc.silence_id} expired)"
            inc.silence_id = None
        self._move(inc, "unacknowledge", text, who)
        return inc

    async def _alertmanager(self, inc: Incident, call, *args, service):
        if self.read_only:
            raise IncidentError(f"read-only: {inc.id} is acknowledged in Alertmanager with a silence, "
                                "and this console sends nothing")
        try:
            result = await call(self.http(), service, *args)
        except SourceError as e:
            raise IncidentError(f"Alertmanager {service.name}: {e}") from None
        self.expedite(service.name)  # show the new silence state at once, in every panel
        return result

    def mitigating(self, incident_id: str, note: str = "", who: str | None = None) -> Incident:
        inc = self.get(incident_id)
        self._move(inc, "mitigating", "mitigating" + (f": {note}" if note else ""), who)
        return inc

    def resolve(self, incident_id: str, resolution: str = "", root_cause: str = "", who: str | None = None) -> Incident:
        inc = self.get(incident_id)
        if resolution:
            inc.notes["resolution"] = resolution
        if root_cause:
            inc.notes["root_cause"] = root_cause
        self._move(inc, "resolve", "resolved" + (f": {resolution}" if resolution else ""), who)
        return inc

    def document(self, incident_id: str, note: str = "", who: str | None = None) -> Incident:
        inc = self.get(incident_id)
        if note:
            inc.notes["postmortem"] = note
        self._move(inc, "document", "documented" + (f": {note}" if note else ""), who)
        return inc

    def record_update(self, incident_id: str, template: str, how: str, who: str | None = None) -> None:
        """A communication draft left the console (copied or written): a stakeholder update went out."""
        inc = self.get(incident_id)
        kind = "update" if template in ("initial", "update", "resolved") else "note"
        self._log(inc, Entry(self.clock.now(), kind, f"{template} draft {how}", who or self.user))


def _known(cls, d: dict) -> dict:
    """The fields of `d` that `cls` has: a field a newer console added is left out."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}
