"""The façade every viewer uses: `ConsoleState` out, commands in, results out — all plain data.

Two implementations: `console.session.Session` (live: demo, run) and
`console.replay_session.ReplaySession` (a recording; every mutating command refused).

    view()                 -> View: what the screens are built from (services, environment, actions, keys)
    state                  -> the newest ConsoleState;  subscribe(fn) -> unsubscribe
    notices()              -> [(severity, line)] to show once at start
    scrubber()             -> masks this console's secrets in what the viewer's own process prints (crash reports)
    await request(cmd)     -> {"ok": bool, "message": str, "refused": bool, ...}

Commands (`cmd` key; any command may carry `by`, the user@host it is attributed to — set by the collector of
`opsconsole serve` for an attached viewer, never taken from the viewer's own word; absent: this console's user):

    incident.verb        id, verb (acknowledge|unacknowledge|mitigating|resolve|document), comment,
                         duration, resolution, root_cause, postmortem_date                      mutating
    incident.expire_silence  silence_id (one of state.stale_acks) -> expires it in Alertmanager     mutating
    incident.view        id -> mitigations [[id, title]], live [[[label, value]]] (playbook values)
    range                exprs, span, step -> now, series [[[ts, value]]]
    mitigation.prepare   action (none: undo the last), item? -> pick + title | plan_id + confirm  mutating
    mitigation.toggle    service, name (a kill-switch row) -> as prepare                        mutating
    mitigation.send      plan_id -> status                                                      mutating
    mitigation.cancel    plan_id                                                                mutating
    draft.write          id, template, text -> path                                             mutating
    draft.copied         id, template                                                           mutating
    screenshot.write     svg -> path (in the data dir; the screen is not the service's business)
    rewind               by (seconds) | jump (±1) | goto (text) | live -> at: the display moves over the
                         session's own recording (live only); mutating commands are refused while rewound.
                         From an attached viewer it moves that viewer's display only (a Rewind per viewer on
                         the collector: console/remote/rewinds.py), and a rewound answer carries `state`
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MUTATING = frozenset({"incident.verb", "incident.expire_silence", "mitigation.prepare", "mitigation.toggle",
                      "mitigation.send", "mitigation.cancel", "draft.write", "draft.copied"})


@dataclass(frozen=True)
class View:
    """What a viewer needs to build its screens; plain data."""

    mode: str  # live | replay
    environment: str
    production: bool
    read_only: bool
    services_by_kind: dict[str, str]
    actions: list[dict] = field(default_factory=list)  # id, title, short, key, kind, service, hidden, dangerous
    keys: dict[str, str] = field(default_factory=dict)  # the config's [keys] remapping
    plots: dict[str, list[list[str]]] = field(default_factory=dict)  # service → [[title, PromQL]] for its detail


class StartError(Exception):
    """The façade cannot start (a collector gone, say): one line for the user, said once the terminal is back."""


def changes(name: str) -> str:
    """What a refused mutating command is called in the one line that refuses it."""
    return "Incident changes" if name.startswith("incident.") else (
        "Drafts" if name.startswith("draft.") else "Mitigations")


def ok(message: str = "", **data: Any) -> dict[str, Any]:
    return {"ok": True, "message": message, "refused": False, **data}


def failed(message: str) -> dict[str, Any]:
    return {"ok": False, "message": message, "refused": False}


def refused(message: str) -> dict[str, Any]:
    """Not done, on purpose (read-only, replay, in flight): said once, audited by the façade."""
    return {"ok": False, "message": message, "refused": True}
