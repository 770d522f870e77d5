"""Ack silences of shared incidents: extended while the alert fires, expired when it resolves, stale ones listed."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Callable

from console.clock import Clock, parse_iso, utc_iso
from console.sources import alertmanager as am
from console.sources.base import SourceError

from .model import Incident, IncidentError
from .shared import is_ack

if TYPE_CHECKING:
    import httpx

    from console.config.schema import Config, Service

log = logging.getLogger(__name__)
# Extend an ack silence when less than this is left: far more than a poll, so it never lapses between two.
EXTEND_AHEAD = 300.0


class AckSilences:
    """The silences behind acknowledgements, kept honest: a silence outliving its alert mutes the next page."""

    def __init__(self, cfg: "Config", clock: Clock, http: "Callable[[], httpx.AsyncClient | None]",
                 expedite: Callable[..., None], note: Callable[[Incident, str], None], read_only: bool) -> None:
        self.cfg = cfg
        self.clock = clock
        self.http = http
        self.expedite = expedite
        self.note = note  # a timeline note on the incident
        self.read_only = read_only
        self.stale: list[dict] = []  # ack silences matching no alert: id, service, created_by, comment, starts/ends
        self._tasks: set[asyncio.Task] = set()  # requests sent off the tick
        self._extending: set[str] = set()  # silence ids with an extension in flight
        self._known: dict[str, set[str]] = {}  # Alertmanager service → silence ids its last poll listed

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def service_for(self, inc: Incident) -> "Service | None":
        """Where the incident's silence lives: its Alertmanager source, or (a shared rule incident) the first one."""
        if inc.source == "alertmanager":
            return self.cfg.service(inc.service)
        if inc.alert_labels:
            return next((s for s in self.cfg.services if s.kind == "alertmanager"), None)
        return None

    def scan(self, service: str, silences: dict[str, dict], silenced: set[str]) -> None:
        """Active ack silences that no listed alert is silenced by: stale, shown with a key.

        Only those the previous poll knew as well: one made between this poll's alerts and silences
        requests matches its alert, but the alerts answer could not say so yet."""
        known = self._known.get(service, set())
        self._known[service] = set(silences)
        self.stale = [s for s in self.stale if s["service"] != service] + [
            {"id": sid, "service": service, "created_by": s.get("created_by"), "comment": s.get("comment"),
             "starts_at": s.get("starts_at"), "ends_at": s.get("ends_at")}
            for sid, s in silences.items()
            if s.get("state") == "active" and is_ack(s.get("comment")) and sid not in silenced and sid in known]

    def extend_if_due(self, service: str, inc: Incident, silences: dict[str, dict], now: float) -> None:
        """While the alert fires, move the ack silence's end before it comes (karma users run a daemon for this)."""
        sil = silences.get(inc.silence_id or "")
        if not (sil and inc.state == "acknowledged" and inc.recovered_at is None and not self.read_only
                and sil.get("state") == "active" and is_ack(sil.get("comment"))):
            return
        try:
            starts, ends = parse_iso(sil["starts_at"]), parse_iso(sil["ends_at"])
        except (KeyError, TypeError, ValueError):
            return
        if ends - now >= EXTEND_AHEAD or inc.silence_id in self._extending:
            return
        # as long again as it was made for, and never so short that the next extension comes before a poll
        new_end = now + max(ends - starts, 2 * EXTEND_AHEAD)
        self._spawn(self._extend(service, inc, sil, starts, new_end))

    async def _extend(self, service: str, inc: Incident, sil: dict, starts: float, ends: float) -> None:
        sid = inc.silence_id
        self._extending.add(sid)
        try:
            # the same id, matchers and start: Alertmanager updates the silence in place
            new = await am.create_silence(self.http(), self.cfg.service(service), inc.alert_labels or inc.labels,
                                          starts, ends, sil.get("created_by") or "opsconsole", sil.get("comment") or "",
                                          silence_id=sid)
        except SourceError as e:
            self.note(inc, f"ack silence {sid} not extended: {e}")
            return
        finally:
            self._extending.discard(sid)
        if new != sid and inc.silence_id == sid:
            inc.silence_id = new  # Alertmanager made a new silence (expiring the old) instead of updating it
        self.note(inc, f"ack silence {new} extended until {utc_iso(ends)}")
        self.expedite(service)

    def expire_on_resolve(self, inc: Incident) -> None:
        """The alert resolved: its ack silence goes at once, so the next occurrence pages again."""
        if not (inc.alert_labels and inc.silence_id) or self.read_only:
            return
        gone, inc.silence_id = inc.silence_id, None
        self.note(inc, f"ack silence {gone} expired: the alert resolved")
        self._spawn(self._expire(inc, gone))

    async def _expire(self, inc: Incident, silence_id: str) -> None:
        service = self.service_for(inc)
        if service is None:
            return
        try:
            await am.expire_silence(self.http(), service, silence_id)
        except SourceError as e:
            self.note(inc, f"ack silence {silence_id} not expired: {e}")
            return
        self.expedite(service.name)

    async def expire_stale(self, silence_id: str, who: str) -> dict:
        """Expire an ack silence listed as stale; IncidentError (one line) when refused or failed."""
        stale = next((s for s in self.stale if s["id"] == silence_id), None)
        if stale is None:
            raise IncidentError(f"no stale ack silence {silence_id}")
        if self.read_only:
            raise IncidentError("read-only: this console sends nothing to Alertmanager")
        try:
            await am.expire_silence(self.http(), self.cfg.service(stale["service"]), silence_id)
        except SourceError as e:
            raise IncidentError(f"Alertmanager {stale['service']}: {e}") from None
        self.stale = [s for s in self.stale if s["id"] != silence_id]
        log.info("stale ack silence %s expired by %s", silence_id, who)
        self.expedite(stale["service"])
        return stale

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)



async def stale_once(cfg: "Config", clock: Clock) -> tuple[list[dict], list[str]]:
    """Ask each Alertmanager service of the config once (`opsconsole incidents --stale-acks`): the ack silences
    no alert is silenced by, and one line per Alertmanager that could not say."""
    import httpx

    from console.sources import build_source, read

    stale, errors = [], []
    async with httpx.AsyncClient() as client:
        for svc in (s for s in cfg.services if s.kind == "alertmanager"):
            data = {}
            for obs in await build_source(svc, client, clock).poll_due(clock.now()):
                try:
                    if obs.error is not None:
                        raise ValueError(obs.error)
                    data[obs.endpoint] = read(svc.kind, obs.endpoint, obs.payload, svc.job or svc.name,
                                              svc.instance or "").data
                except ValueError as e:
                    errors.append(f"{svc.name}: {obs.endpoint}: {str(e).splitlines()[0]}")
            if set(data) != {"alerts", "silences"}:
                continue
            silenced = {sid for a in data["alerts"]["alerts"] for sid in a["silenced_by"]}
            stale += [{"id": s["id"], "service": svc.name, "created_by": s["created_by"], "comment": s["comment"],
                       "starts_at": s["starts_at"], "ends_at": s["ends_at"]}
                      for s in data["silences"]["silences"]
                      if s["state"] == "active" and is_ack(s["comment"]) and s["id"] not in silenced]
    return stale, errors


def stale_report(stale: list[dict], errors: list[str]) -> str:
    """The lines `opsconsole incidents --stale-acks` adds after the incidents."""
    lines = ["", "stale ack silences (active, matching no alert: they would mute the next page):"]
    if not stale:
        lines.append("  none")
    for s in stale:
        lines.append(f"  {s['id']}  {s['service']}  by {s['created_by'] or '?'}  until {s['ends_at'] or '?'}  "
                     f"{s['comment'] or ''}")
    if stale:
        lines.append("  expire one with X on an incident's detail, or: amtool silence expire ID")
    lines += [f"  not asked: {e}" for e in errors]
    return "\n".join(lines) + "\n"
