"""The Textual App: starts the session's engine, routes each state update to the visible screen."""

from __future__ import annotations

import sys

from textual.app import App
from textual.message import Message

from console.config import ConfigError, load_config
from console.panels import PLOTS
from console.session import Session
from console.state import ConsoleState

from . import keymap
from .dashboard import Dashboard
from .detail import ServiceDetail
from .help import HelpScreen


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
        self.engine.listeners.append(lambda st: self.post_message(StateChanged(st)))
        if self.autorun:
            self.run_worker(self.engine.run(), group="engine", exclusive=True, exit_on_error=False)

    async def on_unmount(self) -> None:
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

    async def plot_data(self, service: str, plots, span: float, step: float):
        """Points for each plot over the last `span` seconds (the local store, or later Prometheus)."""
        now = self.engine.clock.now()
        return now, [self.engine.range_query(expr, now - span, now, step) for _, expr in plots]

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run_app(args) -> int:
    """`opsconsole demo` / `opsconsole run`: validate the config before the screen opens (exit 2 on error)."""
    config_path = getattr(args, "config", None)
    keys = {}
    if config_path:
        from console import promql
        from console.rules import load_rules

        cfg = load_config(config_path).with_environment(args.env)
        load_rules(cfg, promql.check)
        keys = cfg.keys
    session = Session(config_path=config_path, env=args.env, scenario=getattr(args, "scenario", "normal"),
                      seed=getattr(args, "seed", 0), read_only=args.read_only)
    app = OpsApp(session, keys=keys)
    try:
        app.run()
    except ConfigError as e:
        print(f"opsconsole: {e}", file=sys.stderr)
        return 2
    return app.return_code or 0
