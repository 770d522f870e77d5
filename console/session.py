"""The Session: composition root of a live console, and the one façade its screens talk to (see console/facade.py)."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import re
from typing import Any, Callable

from console.catalog import Catalog, build_catalog
from console.clock import Clock, WallClock, hms, utc_iso
from console.config.schema import Config, load_config
from console.engine import Engine
from console.events import Hub, MitigationChanged, StatePublished
from console.display import Display
from console.facade import MUTATING, View, changes, failed, ok, refused
from console.incidents.manager import ALLOWED, IncidentError, IncidentManager
from console.incidents.store import IncidentStore, default_path
from console.incidents.playbooks import live_value, playbook_for
from console.metrics.panels import PLOTS
from console.mitigations.audit import AuditLog, audit_path
from console.mitigations.catalog import PlanError, action_rows, toggle_for
from console.mitigations.executor import Executor, Plan
from console.mitigations.plan_view import plan_view
from console.paths import data_dir
from console.safe_text import Scrubber
from console.sources.transport import config_scrubber
from console.state import ConsoleState

log = logging.getLogger(__name__)
YOUNG_GC_THRESHOLD = 7_000  # Python's default is 700
PER_DISPLAY = ("rewind", "range", "incident.view")  # answered at the instant the asking display shows
DONE = {"acknowledge": "acknowledged", "unacknowledge": "unacknowledged", "mitigating": "marked mitigating",
        "resolve": "resolved", "document": "documented"}


class Session:
    """What `demo`, `run` and `snapshot` share: the config, the simulator if any, the engine, mitigations, recorder."""

    mode = "live"

    def __init__(self, *, config_path: str | None = None, env: str | None = None, scenario: str = "normal",
                 seed: int = 0, clock: Clock | None = None, read_only: bool = False,
                 record: str | None = None, keys: dict[str, str] | None = None, config: Config | None = None,
                 catalog: Catalog | None = None, demo=None) -> None:
        self.config_path = config_path
        self.config = config  # an already-parsed config instead of a file (tests, embedding)
        self.env = env
        self.scenario = scenario
        self.seed = seed
        self.clock = clock or WallClock()
        self.read_only = read_only
        self.keys = keys or {}  # [keys] on top of the config's (the demo has no config file)
        self.demo = demo  # the demo's fleet when already started elsewhere (console/sim_process.py); else made here
        self.catalog: Catalog | None = catalog
        self.engine: Engine | None = None
        self.executor: Executor | None = None
        self.record = record  # a recording file (or folder), "auto" (the config's `record`), None: off
        self.recorder = None
        self.sender = None  # [alertmanager] send: this console's rule alerts to Alertmanager
        # this console's own display: live, or rewound over the recording (an attached viewer has its own: remote/)
        self.display = Display(self, on_change=lambda: self._publish(self.engine.state))
        self._subscribers: list[Callable[[ConsoleState], None]] = []
        self._plans: dict[int, Plan] = {}
        self._plan_ids = itertools.count(1)

    @property
    def rewound(self):
        """console.rewind.Rewind while this console's display shows the recording, not live; else None."""
        return self.display.rewind

    @property
    def is_demo(self) -> bool:
        return self.config_path is None and self.config is None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> Engine:
        """Read the catalog once, build every part and hand each what it needs."""
        loaded = self.catalog  # checked already, before a screen opened: not read a second time
        if loaded is not None:
            cfg: Config = loaded.cfg
        elif self.is_demo:
            if self.demo is None:
                from console.demo import Demo

                self.demo = Demo(self.clock, scenario=self.scenario, seed=self.seed)
            cfg = await self.demo.start()
        else:
            cfg = (self.config or load_config(self.config_path)).with_environment(self.env)
        if self.read_only:
            cfg = cfg.model_copy(update={"read_only": True})
        if self.keys:
            cfg = cfg.model_copy(update={"keys": {**cfg.keys, **self.keys}})
        self.catalog = loaded if loaded is not None and not self.keys else build_catalog(cfg)
        hub = Hub()
        # incidents persist on real services; the demo's simulator starts fresh, so its incidents do too
        store = None if self.is_demo else IncidentStore(default_path(cfg.data_dir), cfg.environment)
        incidents = IncidentManager(hub, self.clock, cfg, list(self.catalog.rules), http=lambda: self.engine.http,
                                    expedite=lambda *a, **k: self.engine.expedite(*a, **k), read_only=cfg.read_only,
                                    store=store)
        if cfg.alertmanager is not None and cfg.alertmanager.send and not cfg.read_only:
            from console.incidents.sender import AlertSender

            # subscribed before the viewers: each state they get already says what is shared
            self.sender = AlertSender(hub, self.clock, cfg, http=lambda: self.engine.http)
        self.engine = Engine(cfg, self.clock, scenario=self.scenario if self.is_demo else None, catalog=self.catalog,
                             hub=hub, incidents=incidents)
        await self.engine.start()
        if self.sender is not None:
            await self.sender.start()
        # what start-up built (config, rules, parsed PromQL, modules) lives as long as the session: keep it out of
        # the collector's full passes, which otherwise stall the loop for 0.2–0.4 s with many services
        gc.freeze()
        # What a tick makes (its state, its polls' bodies, the recorder's batch) lives about a second: young passes
        # a second apart walked it while still alive, ~1 ms a second (most of the dashboard's collector time). A pass
        # per ~7,000 surviving objects instead (every ~30 s on the demo, ~6 ms) finds most of it already freed.
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
        self.engine.hub.subscribe(StatePublished, lambda ev: self._publish(ev.state))
        if self.record:
            from console.recording.writer import open_recorder

            self.recorder = await open_recorder(self.engine, None if self.record == "auto" else self.record)
        return self.engine

    async def start_mitigations(self) -> None:
        """The executor and its audit log (the TUI and the collector; `snapshot` sends nothing and needs neither)."""
        eng, cfg = self.engine, self.engine.cfg
        self.executor = Executor(self.catalog.actions, cfg=cfg, clock=eng.clock, hub=eng.hub, state=lambda: eng.state,
                                 records=eng.actions, query=eng.query, expedite=eng.expedite,
                                 audit=AuditLog(audit_path(cfg.data_dir)))
        await self.executor.start()
        eng.hub.subscribe(MitigationChanged, lambda ev: self._publish(eng.state))  # sending…, verifying, settled

    async def run(self) -> None:
        await self.engine.run()

    async def stop(self) -> None:
        await self.display.close()
        if self.executor is not None:
            await self.executor.stop()
        if self.recorder is not None:
            await self.recorder.stop()
        if self.sender is not None:
            await self.sender.stop()
        if self.engine is not None:
            await self.engine.stop()
        if self.demo is not None:
            await self.demo.stop()

    # --- state out --------------------------------------------------------------------------

    @property
    def state(self) -> ConsoleState:
        return self.engine.state

    def view(self) -> View:
        cfg = self.engine.cfg
        by_kind: dict[str, str] = {}
        for s in cfg.services:
            by_kind.setdefault(s.kind, s.name)
        plots = {s.name: [[t, e.replace("$job", s.job or s.name)] for t, e in PLOTS.get(s.kind, [])]
                 for s in cfg.services}
        return View(mode=self.mode, environment=cfg.environment, production=cfg.production,
                    read_only=cfg.read_only, services_by_kind=by_kind, actions=action_rows(self.catalog.actions),
                    keys=dict(cfg.keys), plots=plots)

    def scrubber(self) -> Scrubber:
        """Masks this console's secrets (re-read from the environment): for what this process prints itself."""
        return config_scrubber(self.engine.cfg)

    def notices(self) -> list[tuple[str, str]]:
        """What the user should read once at start: (severity, line)."""
        out = []
        if self.recorder is not None:
            out.append(("information", f"Recording to {self.recorder.path}"))
        if self.engine.incidents.persist_error:
            out.append(("warning", f"Incidents are not saved: {self.engine.incidents.persist_error}"))
        return out

    def subscribe(self, fn: Callable[[ConsoleState], None]) -> Callable[[], None]:
        """Call `fn` with every published state; returns the unsubscribe."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def _publish(self, state: ConsoleState) -> None:
        state = self.display.shown(state)  # rewound: the engine runs on; the display stays where it was rewound to
        for fn in list(self._subscribers):
            fn(state)

    # --- commands in (plain data), results out (plain data) ---------------------------------

    async def request(self, cmd: dict[str, Any], display: Display | None = None) -> dict[str, Any]:
        """Run one command (see console/facade.py for the list); never raises for a bad command. `display`: whose
        display it comes from (an attached viewer's on the collector: console/remote/rewinds.py); None: this
        console's own."""
        display = display or self.display
        name = cmd.get("cmd")
        handler = getattr(self, "cmd_" + str(name or "").replace(".", "_"), None)
        if handler is None:
            return failed(f"unknown command {name!r}")
        if name in MUTATING and (display.rewound or cmd.get("rewound") is not None):  # either side's word (attach)
            return self._refused_while_rewound(str(name), cmd, display)
        try:
            if name in PER_DISPLAY:
                return await handler(cmd, display)
            return await handler(cmd)
        except (PlanError, IncidentError) as e:
            return failed(str(e))
        except KeyError as e:
            return failed(f"{cmd.get('cmd')}: missing {e}")

    def _refused_while_rewound(self, name: str, cmd: dict, display: Display) -> dict:
        """A change from a display showing the past: refused before anything is sent, and audited as every refused
        attempt is (this console's own display, or an attached viewer's on the collector)."""
        if self.executor is not None:
            when = f" at {hms(display.at)}" if display.at is not None else ""  # an attached viewer's word is not printed
            self.executor.refuse_command(cmd, f"rewound{when}: nothing sent", cmd.get("by"), "a rewound display")
        return refused(f"{changes(name)} are refused while rewound: End or Esc returns to live")

    async def cmd_rewind(self, cmd: dict, display: Display | None = None) -> dict:
        """Move the display over this session's recording: `by` seconds, `jump` ±1 (rule or incident event),
        `goto` a typed time, or `live`. The engine keeps polling, evaluating and opening incidents meanwhile;
        the seek itself runs in a worker thread (console/display.py, console/rewind.py)."""
        return await (display or self.display).move(cmd)

    async def cmd_incident_verb(self, cmd: dict) -> dict:
        mgr, verb, iid = self.engine.incidents, cmd["verb"], cmd["id"]
        if verb not in ALLOWED:
            return failed(f"no incident verb {verb!r}")
        inc = mgr.get(iid)
        if inc.state not in ALLOWED[verb][0]:
            return failed(f"{inc.id} is {inc.state}: cannot {verb}")
        who = cmd.get("by")  # an attached viewer's user@host (console/remote/server.py); None: this console's user
        if verb == "acknowledge":
            await mgr.acknowledge(iid, comment=cmd.get("comment", ""), duration=cmd.get("duration", 3600.0), who=who)
        elif verb == "unacknowledge":
            await mgr.unacknowledge(iid, who=who)
        elif verb == "resolve":
            if cmd.get("postmortem_date"):
                inc.notes["postmortem_date"] = cmd["postmortem_date"]
            mgr.resolve(iid, resolution=cmd.get("resolution", ""), root_cause=cmd.get("root_cause", ""), who=who)
        else:
            getattr(mgr, verb)(iid, who=who)
        self.engine.state.incidents = mgr.visible()  # show it now, not at the next tick
        self._publish(self.engine.state)
        return ok(f"{iid} {DONE[verb]}")

    async def cmd_incident_expire_silence(self, cmd: dict) -> dict:
        """Expire a stale ack silence (one that matches no alert any more)."""
        stale = await self.engine.incidents.expire_stale(cmd["silence_id"], cmd.get("by"))
        self.engine.state.stale_acks = list(self.engine.incidents.stale_acks)
        self._publish(self.engine.state)
        return ok(f"ack silence {stale['id']} expired ({stale.get('comment') or 'no comment'})")

    async def cmd_incident_view(self, cmd: dict, display: Display | None = None) -> dict:
        """What the incident detail shows beyond the state: its mitigations and the playbook's values, as they
        were at the rewound instant while rewound (`at` says which instant), else live."""
        async with (display or self.display).instant() as then:
            if then is not None:
                try:
                    return self._incident_view(cmd["id"], *then)
                except IncidentError:  # not opened yet at that instant: what the console knows of it now
                    pass
        return self._incident_view(cmd["id"], self.engine, self.engine.state.ts)

    def _incident_view(self, iid: str, engine, at: float) -> dict:
        inc = engine.incidents.get(iid)
        pb = playbook_for(inc.runbook)
        rule = next((r for r in engine.rules if r.name == inc.rule and r.service == inc.service), None) \
            if inc.source == "rule" else None
        ids = list(dict.fromkeys(list(pb.mitigations) + list(rule.actions if rule else [])))[:9]
        titles = {a.id: a.title for a in self.catalog.actions.values()}
        state = engine.state
        name = inc.service
        if inc.source == "alertmanager":  # the watched service the alert is about, when the console has it
            name = next((v for v in (inc.labels.get("service"), inc.labels.get("job")) if v in state.services), name)
        svc = state.services.get(name)
        cfg = next((s for s in engine.cfg.services if s.name == name), None)
        job = (cfg.job or cfg.name) if cfg else name
        results = {a: r for (s, a), r in engine.incidents.action_results.items() if s == name}

        def query(expr: str):
            return engine.query(expr, at)

        live = [[[lv.label, live_value(lv, svc.figures if svc else {}, query, job, results)] for lv in step.live]
                for step in pb.diagnosis]
        return ok(mitigations=[[a, titles.get(a, a)] for a in ids], live=live, at=at)

    async def cmd_range(self, cmd: dict, display: Display | None = None) -> dict:
        """Points of each expression over the last `span` seconds, for plots: up to the rewound instant while
        rewound (the display shows that instant), else up to now."""
        span, step = float(cmd["span"]), float(cmd["step"])
        async with (display or self.display).instant() as then:
            if then is not None:
                engine, now = then
                series = [await engine.plot_range(expr, now - span, now, step) for expr in cmd["exprs"]]
                return ok(now=now, series=series)
        now = self.clock.now()
        series = [await self.engine.plot_range(expr, now - span, now, step) for expr in cmd["exprs"]]
        return ok(now=now, series=series)

    # mitigations: prepare (pick or plan) → the user confirms → send, or cancel; every attempt audited

    async def cmd_mitigation_prepare(self, cmd: dict) -> dict:
        ex = self.executor
        if ex is None:
            return failed("mitigations are not running in this console")
        action_id, item = cmd.get("action"), cmd.get("item")
        try:
            if action_id is None:  # undo: the inverse of the newest undoable action
                plan = ex.plan_inverse()
            else:
                action = ex.actions.get(action_id)
                if action is not None and action.pick and item is None:
                    choices = ex.items(action_id)
                    if not choices:
                        raise PlanError(f"nothing to pick for {action.title.lower()} (no {action.pick} seen yet)")
                    return ok(pick=choices, title=action.title)
                plan = ex.plan(action_id, item)
        except PlanError as e:  # refused before the dialog: said, shown in Activity and audited all the same
            target = item.get("label") if isinstance(item, dict) else item
            ex.refuse_unplanned(action_id, str(e), None if target is None else str(target), by=cmd.get("by"))
            return refused(str(e))
        plan.by = cmd.get("by")
        reason = ex.refusal(plan)
        if reason:  # read-only or in flight: never reaches the network, but is audited
            ex.refuse(plan, reason)
            return refused(f"{plan.action.title}: {reason}")
        pid = next(self._plan_ids)
        self._plans[pid] = plan
        return ok(plan_id=pid, confirm=plan_view(plan, ex.clean))

    async def cmd_mitigation_toggle(self, cmd: dict) -> dict:
        """`x` on a kill-switch row: the action that flips it."""
        service, name = cmd["service"], cmd["name"]
        action_id, item = toggle_for(self.engine.cfg.service(service).kind, name, self.engine.state.services[service])
        return await self.cmd_mitigation_prepare({"action": action_id, "item": item, "by": cmd.get("by")})

    async def cmd_mitigation_send(self, cmd: dict) -> dict:
        plan = self._plans.pop(cmd["plan_id"], None)
        if plan is None:
            return failed("that plan was already sent or cancelled")
        plan.by = cmd.get("by") or plan.by  # who pressed send
        rec = await self.executor.execute(plan)
        return ok(f"{plan.action.title}: {rec.status}", status=rec.status, seq=rec.seq)

    async def cmd_mitigation_cancel(self, cmd: dict) -> dict:
        plan = self._plans.pop(cmd["plan_id"], None)
        if plan is not None:
            plan.by = cmd.get("by") or plan.by
            self.executor.cancel(plan)
        return ok()

    # drafts: the screen renders the text; the console writes it and notes it on the incident

    async def cmd_draft_write(self, cmd: dict) -> dict:
        iid, template = cmd["id"], cmd["template"]
        now = self.clock.now()
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{iid}-{template}-{utc_iso(now)}.txt")
        folder = data_dir(self.engine.cfg.data_dir) / "drafts"

        def write():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(cmd["text"] + "\n", encoding="utf-8")
            return folder / name

        try:
            path = await asyncio.to_thread(write)
        except OSError as e:
            return failed(f"cannot write the draft: {e.strerror}")
        self.engine.incidents.record_update(iid, template, f"written to {path}", cmd.get("by"))
        return ok(f"{template} draft written to {path}", path=str(path))

    async def cmd_screenshot_write(self, cmd: dict) -> dict:
        """An SVG of what the user sees, into <data dir>/screenshots/ (never ~/Downloads, which may not exist)."""
        folder = data_dir(self.engine.cfg.data_dir) / "screenshots"
        path = folder / f"opsconsole-{utc_iso(self.clock.now()).replace(':', '')}.svg"

        def write():
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(cmd["svg"], encoding="utf-8")

        try:
            await asyncio.to_thread(write)
        except OSError as e:
            return failed(f"cannot write the screenshot: {e.strerror}")
        return ok(f"Screenshot written to {path}", path=str(path))

    async def cmd_draft_copied(self, cmd: dict) -> dict:
        self.engine.incidents.record_update(cmd["id"], cmd["template"], "copied to the clipboard", cmd.get("by"))
        return ok(f"{cmd['template']} draft copied to the clipboard (OSC 52)")
