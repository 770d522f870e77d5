"""Alertmanager (API v2): its alerts and silences as readings, and the silence calls that acknowledge."""

from __future__ import annotations

from typing import Any, TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the caller passes the client
    import httpx

from console.clock import parse_iso, utc_iso
from console.config.schema import Service
from console.model import Sample
from console.safe_text import Scrubber, clean
from .base import json_endpoint
from .transport import SourceError, auth_headers, auth_secrets, send_once, status_error
from .schema import Reading

ALERT_STATES = ("active", "suppressed", "unprocessed")
SILENCE_STATES = ("active", "pending", "expired")


def endpoints(service: Service) -> list:
    return [json_endpoint(service, "alerts", "/api/v2/alerts"),
            json_endpoint(service, "silences", "/api/v2/silences")]


def _strings(obj: Any, where: str) -> dict[str, str]:
    if obj is None:
        return {}
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        raise ValueError(f"{where} is not an object of strings")
    return dict(obj)


def _time(v: Any) -> str | None:
    """RFC3339 as Alertmanager writes it (milli- to nanoseconds) → our UTC form; None when absent or bad."""
    if not isinstance(v, str):
        return None
    text = v
    if "." in text:  # Python reads at most microseconds: trim the fraction
        head, _, frac = text.partition(".")
        digits = "".join(c for c in frac if c.isdigit())
        text = f"{head}.{digits[:6]}{frac[len(digits):]}"
    try:
        return utc_iso(parse_iso(text))
    except ValueError:
        return None


def _list(payload: Any, endpoint: str) -> list[dict]:
    if not isinstance(payload, list):
        raise ValueError(f"{endpoint}: body is {type(payload).__name__}, expected a list")
    for i, row in enumerate(payload):
        if not isinstance(row, dict):
            raise ValueError(f"{endpoint}: [{i}] is {type(row).__name__}, expected an object")
    return payload


def _gauges(name: str, states: tuple[str, ...], rows: list[dict], job: str, instance: str) -> list[Sample]:
    return [Sample({"__name__": name, "state": s, "job": job, "instance": instance},
                   float(sum(r["state"] == s for r in rows))) for s in states]


class _Alerts:
    def read(self, endpoint: str, payload: Any, job: str, instance: str) -> Reading:
        alerts = []
        for i, a in enumerate(_list(payload, endpoint)):
            where = f"{endpoint}: [{i}]"
            status = a.get("status") if isinstance(a.get("status"), dict) else {}
            labels = _strings(a.get("labels"), f"{where}.labels")
            if not labels:
                raise ValueError(f"{where}.labels is missing")
            alerts.append({"labels": labels, "annotations": _strings(a.get("annotations"), f"{where}.annotations"),
                           "starts_at": _time(a.get("startsAt")), "ends_at": _time(a.get("endsAt")),
                           "fingerprint": a.get("fingerprint") if isinstance(a.get("fingerprint"), str) else None,
                           "state": status.get("state") if status.get("state") in ALERT_STATES else "unprocessed",
                           "silenced_by": [s for s in status.get("silencedBy") or [] if isinstance(s, str)],
                           "inhibited_by": [s for s in status.get("inhibitedBy") or [] if isinstance(s, str)]})
        return Reading({"alerts": alerts}, _gauges("opsconsole_alertmanager_alerts", ALERT_STATES, alerts, job, instance))


class _Silences:
    def read(self, endpoint: str, payload: Any, job: str, instance: str) -> Reading:
        silences = []
        for s in _list(payload, endpoint):
            status = s.get("status") if isinstance(s.get("status"), dict) else {}
            silences.append({"id": s.get("id") if isinstance(s.get("id"), str) else None,
                             "state": status.get("state") if status.get("state") in SILENCE_STATES else None,
                             "created_by": s.get("createdBy") if isinstance(s.get("createdBy"), str) else None,
                             "comment": s.get("comment") if isinstance(s.get("comment"), str) else None,
                             "starts_at": _time(s.get("startsAt")), "ends_at": _time(s.get("endsAt"))})
        return Reading({"silences": silences},
                       _gauges("opsconsole_alertmanager_silences", SILENCE_STATES, silences, job, instance))


READERS = {"alerts": _Alerts(), "silences": _Silences()}


# --- acknowledgements are silences ------------------------------------------------------------

async def _send(client: httpx.AsyncClient, service: Service, method: str, path: str, body: dict | None = None):
    """One mutating request (never retried); errors as one line that names no secret."""
    headers = auth_headers(service.auth)  # SourceError when its env var is unset
    resp = await send_once(client, method, service.url.rstrip("/") + path, headers, service.timeout, body)
    if resp.status_code != 200:
        raise SourceError(status_error(resp, service.auth, Scrubber(auth_secrets(service.auth))))
    return resp


async def create_silence(client: httpx.AsyncClient, service: Service, labels: dict[str, str], starts: float,
                         ends: float, created_by: str, comment: str, silence_id: str | None = None) -> str:
    """POST /api/v2/silences matching exactly the alert's labels; returns the silence id.

    With `silence_id` (and the same matchers and start) Alertmanager updates that silence in place: an extension."""
    matchers = [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in sorted(labels.items())]
    body = {"matchers": matchers, "startsAt": utc_iso(starts), "endsAt": utc_iso(ends),
            "createdBy": created_by, "comment": comment}
    if silence_id:
        body["id"] = silence_id
    resp = await _send(client, service, "POST", "/api/v2/silences", body)
    try:
        sid = resp.json()["silenceID"]
    except (ValueError, KeyError, TypeError):
        raise SourceError(f"silence: unexpected answer {clean(resp.text, Scrubber(auth_secrets(service.auth)), 60)!r}") from None
    if not isinstance(sid, str):
        raise SourceError("silence: answer has no silenceID")
    return sid


async def expire_silence(client: httpx.AsyncClient, service: Service, silence_id: str) -> None:
    """DELETE /api/v2/silence/{id} (singular): the silence expires now."""
    await _send(client, service, "DELETE", f"/api/v2/silence/{silence_id}")


async def post_alerts(client: httpx.AsyncClient, service: Service, alerts: list[dict]) -> None:
    """POST /api/v2/alerts: a batch of alerts (labels, annotations, startsAt, endsAt, generatorURL)."""
    await _send(client, service, "POST", "/api/v2/alerts", alerts)
