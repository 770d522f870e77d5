"""The Textual App: starts the session's engine, routes each state update to the visible screen."""

from __future__ import annotations

import sys
from functools import partial

from textual.app import App, SystemCommand
from textual.message import Message

from console.mitigations.catalog import PlanError, load_actions, toggle_for
from console.mitigations.audit import AuditLog, audit_path
from console.config.schema import ConfigError, load_config
from console.mitigations.executor import Executor
from console.metrics.panels import PLOTS
from console.session import Session
from console.state import ConsoleState

from . import keymap
from .confirm import ConfirmScreen
from .dashboard import Dashboard
from .detail import ServiceDetail
from .help import HelpScreen
from .incident_detail import IncidentDetail
from .incident_dialog import incident_verb
from .pick import PickScreen


class StateChanged(Message):
    """The engine published a new state; a burst collapses into the newest one."""

    def __init__(self, state: ConsoleState) -> None:
        super().__init__()
        self.state = state

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateChanged)


class OpsApp(App):
    TITLE = "opsconsole"
    BINDINGS = keymap.APP
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, session: Session, *, autorun: bool = True, keys: dict[str, str] | None = None) -> None:
        super().__init__()
        self.session = session
        self.autorun = autorun
        self.engine = None
        self.dashboard: Dashboard | None = None
        self.executor: Executor | None = None
        self._keys = keys or {}

    async def on_mount(self) -> None:
        if self._keys:
            self.set_keymap(self._keys)
        self.engine = await self.session.start()
        cfg = self.engine.cfg
        by_kind: dict[str, str] = {}
        for s in cfg.services:
            by_kind.setdefault(s.kind, s.name)
        self.dashboard = Dashboard(by_kind, production=cfg.production)
        await self.push_screen(self.dashboard)
        self.executor = Executor(self.engine, load_actions(cfg), AuditLog(audit_path(cfg.data_dir)))
        await self.executor.start()
        self.executor.listeners.append(lambda rec: self.post_message(StateChanged(self.engine.state)))
        keymap.bind_actions(self.dashboard, self.executor.actions.values(), cfg.read_only)
        self.engine.listeners.append(lambda st: self.post_message(StateChanged(st)))
        recorder = getattr(self.session, "recorder", None)
        if recorder is not None:
            self.notify(f"Recording to {recorder.path}", timeout=5)
        if self.engine.incidents.persist_error:
            self.notify(f"Incidents are not saved: {self.engine.incidents.persist_error}", severity="warning",
                        timeout=10)
        if self.autorun:
            self.run_worker(self.engine.run(), group="engine", exclusive=True, exit_on_error=False)

    async def on_unmount(self) -> None:
        if self.executor is not None:
            await self.executor.stop()
        await self.session.stop()

    def on_state_changed(self, message: StateChanged) -> None:
        show = getattr(self.screen, "show", None)
        if show is not None:
            show(message.state)
        if self.dashboard is not None and self.screen is not self.dashboard:
            self.dashboard._last = message.state  # redrawn when it is shown again

    def open_detail(self, service: str) -> None:
        svc = self.engine.state.services.get(service)
        if svc is None:
            return
        job = self.engine.cfg.service(service).job or service
        plots = [(t, e.replace("$job", job)) for t, e in PLOTS.get(svc.kind, [])]
        screen = ServiceDetail(service, plots, production=self.engine.cfg.production)
        self.push_screen(screen)
        screen.call_after_refresh(screen.show, self.engine.state)

    def open_incident(self, incident_id: str) -> None:
        inc = self.engine.incidents.incidents.get(incident_id)
        if inc is None:
            return
        titles = {a.id: a.title for a in self.executor.actions.values()} if self.executor else {}
        screen = IncidentDetail(inc, titles, production=self.engine.cfg.production)
        self.push_screen(screen)
        screen.call_after_refresh(screen.show, self.engine.state)

    def on_incident_table_requested(self, message) -> None:
        """a / m / r / Enter on the incident table."""
        if message.verb == "open":
            self.open_incident(message.incident_id)
        else:
            incident_verb(self, message.verb, message.incident_id)

    async def plot_data(self, service: str, plots, span: float, step: float):
        """Points for each plot over the last `span` seconds (the local store, or Prometheus's query_range)."""
        now = self.engine.clock.now()
        return now, [await self.engine.plot_range(expr, now - span, now, step) for _, expr in plots]

    # --- mitigations: pick → confirm → send → verify, one path for keys, palette, `u` and incidents ---

    def request_action(self, action_id: str, item: dict | str | None = None) -> None:
        """Run an action as the user would: pick its item (unless given: a dict or an item key), confirm, send."""
        self.run_worker(self._mitigate(action_id, item), group="mitigate")

    action_request_action = request_action  # what the panels' key bindings call

    def action_undo(self) -> None:
        self.run_worker(self._mitigate(None, None), group="mitigate")

    def action_toggle_switch(self) -> None:
        """`x` on the kill-switch table: the action that flips the selected row."""
        key = self.dashboard.query_one("#switch-table").selected_key if self.dashboard else None
        if key is None:
            return
        service, name = key.split("/", 1)
        try:
            action_id, item = toggle_for(self.engine.cfg.service(service).kind, name, self.engine.state.services[service])
        except PlanError as e:
            self.notify(str(e), severity="warning")
            return
        self.request_action(action_id, item)

    async def _mitigate(self, action_id: str | None, item: dict | str | None) -> None:
        ex = self.executor
        try:
            if action_id is None:
                plan = ex.plan_inverse()
            else:
                action = ex.actions.get(action_id)
                if action is not None and action.pick and item is None:
                    choices = ex.items(action_id)
                    if not choices:
                        raise PlanError(f"nothing to pick for {action.title.lower()} (no {action.pick} seen yet)")
                    item = await self.push_screen_wait(PickScreen(action.title, choices))
                    if item is None:
                        return
                plan = ex.plan(action_id, item)
        except PlanError as e:
            self.notify(str(e), severity="warning", timeout=5)
            return
        reason = ex.refusal(plan)
        if reason:  # read-only or in flight: never reaches the network, but is audited
            ex.refuse(plan, reason)
            self.notify(f"{plan.action.title}: {reason}", severity="warning", timeout=5)
            return
        if await self.push_screen_wait(ConfirmScreen(plan, ex.clean)):
            await ex.execute(plan)
        else:
            ex.cancel(plan)

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        if self.executor is None:
            return
        for a in self.executor.actions.values():
            if not a.hidden:
                yield SystemCommand(a.title, f"{a.id} · runbook {a.runbook}", partial(self.request_action, a.id))
        yield SystemCommand("Undo the last action", "its inverse, through the confirm dialog", self.action_undo)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run_app(args) -> int:
    """`opsconsole demo` / `opsconsole run`: validate the config before the screen opens (exit 2 on error)."""
    config_path = getattr(args, "config", None)
    keys = {}
    if config_path:
        from console import promql
        from console.rules.load import load_rules

        cfg = load_config(config_path).with_environment(args.env)
        load_rules(cfg, promql.check)
        keys = cfg.keys
    session = Session(config_path=config_path, env=args.env, scenario=getattr(args, "scenario", "normal"),
                      seed=getattr(args, "seed", 0), read_only=args.read_only,
                      record=getattr(args, "record", None) or "auto")  # the TUI records unless the config says not
    app = OpsApp(session, keys=keys)
    try:
        app.run()
    except ConfigError as e:
        print(f"opsconsole: {e}", file=sys.stderr)
        return 2
    return app.return_code or 0
