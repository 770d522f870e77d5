"""The Textual App: a viewer of one façade (a live Session or a replay); states in, commands out."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from pathlib import Path
from functools import partial

from rich.console import Console
from textual.app import App, SystemCommand
from textual.message import Message

from console.bandwidth import low_bandwidth
from console.commands import Registry, build_registry
from console.config.schema import ConfigError
from console.facade import StartError, View
from console.safe_text import ScrubbedText
from console.session import Session
from console.state import ConsoleState
from widgets.bindings import install

from .dashboard import Dashboard
from . import toasts
from .visibility import painted

# The detail, incident, help and dialog screens are imported when first opened: the first frame does not need
# them (the detail's plotting library alone is ~15 ms of start-up).


FIRST_STATE_WAIT_S = 0.3  # how long the first frame waits for the first figures (the demo's come in ~0.15 s)


class StateChanged(Message):
    """The façade published a new state; a burst collapses into the newest one."""

    def __init__(self, state: ConsoleState) -> None:
        super().__init__()
        self.state = state

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateChanged)


class OpsApp(App):
    TITLE = "opsconsole"
    ENABLE_COMMAND_PALETTE = True
    CSS = toasts.CSS
    # the dashboard's stylesheet is read with the app's: a screen's CSS_PATH read when the screen is pushed makes
    # Textual parse every stylesheet again (Textual's screen CSS_PATH is global once read anyway)
    CSS_PATH = str(Path(__file__).with_name("dashboard.tcss"))

    def __init__(self, session, *, autorun: bool = True, layout: str | None = None,
                 low_bandwidth: bool = False, gc_held: bool = False) -> None:
        super().__init__()
        self.gc_held = gc_held  # the CLI held the garbage collector off for start-up: back on after the first state
        self.layout_name = layout or "dashboard"  # dashboard | wall: the first screen (`w` switches)
        self.session = session  # the façade: console.session.Session or console.replay_session.ReplaySession
        self.autorun = autorun
        self.low_bandwidth = low_bandwidth  # over SSH: the clock to the minute, no animations, plots once a minute
        if low_bandwidth:
            self.animation_level = "none"
        self.view: View | None = None
        self.start_error: str | None = None
        self.registry: Registry | None = None
        self.dashboard: Dashboard | None = None
        self._unsubscribe = None

    def get_driver_class(self):
        from textual.drivers.linux_driver import LinuxDriver

        from .terminal_driver import QuietLinuxDriver

        driver = super().get_driver_class()
        return QuietLinuxDriver if driver is LinuxDriver else driver  # a TEXTUAL_DRIVER (the web's) is kept

    @property
    def refused(self) -> frozenset[str]:
        """What this console refuses: in replay every change, read-only everything that reaches a service."""
        if self.view is None:
            return frozenset()
        if self.view.mode == "replay":
            return frozenset({"send", "change"})
        return frozenset({"send"}) if self.view.read_only else frozenset()

    async def on_mount(self) -> None:
        try:
            await self.session.start()
        except StartError as e:  # e.g. the collector went away between `attach`'s check and this screen
            self.start_error = str(e)  # printed as one line once the terminal is back (screens/attach.py)
            self.exit(return_code=2)
            return
        # a crash report is printed by Textual on exit: through the same scrubber as every log (one line per
        # write, never wrapped, so a secret in a traceback's locals cannot be split around a line break)
        self.error_console = Console(file=ScrubbedText(sys.__stderr__, self.session.scrubber()),
                                     width=100_000, markup=False, highlight=False, color_system=None)
        await self.session.start_mitigations()
        self.view = self.session.view()
        self.registry = build_registry(self.view.actions, self.view.keys)
        install(self, "app")
        self.dashboard = self.make_dashboard()
        first = asyncio.Event()
        self._unsubscribe = self.session.subscribe(partial(self._published, first))
        if self.autorun:
            self.run_worker(self.session.run(), group="engine", exclusive=True, exit_on_error=False)
        # Textual dispatches Mount inside a batch and throws away what is painted meanwhile: the dashboard is
        # opened once this handler has returned, so its first paint is the one the terminal gets (~40 ms sooner)
        self.call_later(self._open, first)

    async def _open(self, first: asyncio.Event) -> None:
        if self.autorun:
            # the dashboard is laid out and painted once, with the first figures, rather than once empty and
            # again when they come; a slow first answer does not hold the screen longer than this
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first.wait(), FIRST_STATE_WAIT_S)
        await self.push_screen(self.dashboard)
        if self.layout_name == "wall":
            self.action_wall()
        for severity, line in self.session.notices():
            self.notify(line, severity=severity, timeout=5 if severity == "information" else 10)

    def _published(self, first: asyncio.Event, state: ConsoleState) -> None:
        if not first.is_set():
            first.set()
            self.dashboard.remember(state)  # shown when it is first composed (the message comes after)
        self.post_message(StateChanged(state))

    def make_dashboard(self) -> Dashboard:
        return Dashboard(self.view.services_by_kind, production=self.view.production)

    async def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self.session.stop()

    def on_state_changed(self, message: StateChanged) -> None:
        if self.gc_held:
            self.gc_held = False
            self.call_after_refresh(gc.enable)  # once this state is painted
        shown = painted(self.screen_stack)  # under a dialog the screen keeps updating (only what is visible)
        for screen in shown:
            show = getattr(screen, "show", None)
            if show is not None:
                show(message.state)
        if self.dashboard is not None and self.dashboard not in shown:
            self.dashboard.remember(message.state)  # redrawn when it is shown again

    # --- screens ----------------------------------------------------------------------------

    def action_wall(self) -> None:
        """`w`: the war-room wall over the dashboard (which keeps its state and is shown again by `w`)."""
        from .wall import Wall  # loaded when first shown: a console that never shows it never imports it

        if isinstance(self.screen, Wall):
            return
        screen = Wall(production=self.view.production)
        self.push_screen(screen)
        screen.call_after_refresh(screen.show, self.session.state)

    def action_leave_wall(self) -> None:
        from .wall import Wall

        if isinstance(self.screen, Wall):
            self.pop_screen()

    def open_detail(self, service: str) -> None:
        if service not in self.session.state.services:
            return
        from .detail import ServiceDetail

        screen = ServiceDetail(service, self.view.plots.get(service, []), production=self.view.production)
        self.push_screen(screen)
        screen.call_after_refresh(screen.show, self.session.state)

    def open_incident(self, incident_id: str) -> None:
        inc = next((i for i in self.session.state.incidents if i.id == incident_id), None)
        if inc is None:
            self.notify(f"{incident_id} is no longer listed", severity="warning", timeout=3)
            return
        from .incident_detail import IncidentDetail

        screen = IncidentDetail(inc, production=self.view.production)
        self.push_screen(screen)
        screen.call_after_refresh(screen.show, self.session.state)

    def on_incident_table_requested(self, message) -> None:
        """a / m / r / Enter on the incident table."""
        if message.verb == "open":
            self.open_incident(message.incident_id)
        else:
            from .incident_dialog import incident_verb

            incident_verb(self, message.verb, message.incident_id)

    async def command(self, cmd: dict) -> dict:
        """Send a command to the façade; a refusal or failure is said in one line."""
        result = await self.session.request(cmd)
        if not result["ok"] and result["message"]:
            self.notify(result["message"], severity="warning" if result["refused"] else "error", timeout=5)
        return result

    async def plot_data(self, exprs: list[str], span: float, step: float):
        """Points for each expression over the last `span` seconds (the local store, or Prometheus's query_range)."""
        res = await self.session.request({"cmd": "range", "exprs": exprs, "span": span, "step": step})
        return res.get("now", 0.0), res.get("series", [[] for _ in exprs])

    # --- mitigations: pick → confirm → send → verify, one path for keys, palette, `u` and incidents ---

    def request_action(self, action_id: str, item: dict | str | None = None) -> None:
        """Run an action as the user would: pick its item (unless given), confirm, send."""
        self.run_worker(self._mitigate({"cmd": "mitigation.prepare", "action": action_id, "item": item}),
                        group="mitigate")

    action_request_action = request_action  # what the panels' key bindings call

    def action_undo(self) -> None:
        self.run_worker(self._mitigate({"cmd": "mitigation.prepare", "action": None}), group="mitigate")

    def action_toggle_switch(self) -> None:
        """`x` on the kill-switch table: the action that flips the selected row."""
        key = self.dashboard.query_one("#switch-table").selected_key if self.dashboard else None
        if key is None:
            return
        service, name = key.split("/", 1)
        self.run_worker(self._mitigate({"cmd": "mitigation.toggle", "service": service, "name": name}),
                        group="mitigate")

    async def _mitigate(self, cmd: dict) -> None:
        from .confirm import ConfirmScreen
        from .pick import PickScreen

        res = await self.command(cmd)
        if res["ok"] and "pick" in res:
            item = await self.push_screen_wait(PickScreen(res["title"], res["pick"]))
            if item is None:
                return
            res = await self.command({**cmd, "item": item})
        if not res["ok"] or "plan_id" not in res:
            return
        if await self.push_screen_wait(ConfirmScreen(res["confirm"])):
            await self.command({"cmd": "mitigation.send", "plan_id": res["plan_id"]})
        else:
            await self.command({"cmd": "mitigation.cancel", "plan_id": res["plan_id"]})

    # --- keys, help, palette: all from the registry ------------------------------------------

    def get_system_commands(self, screen):
        # Textual's own Screenshot writes to ~/Downloads (and fails when it does not exist): ours is in the registry
        yield from (c for c in super().get_system_commands(screen) if c.title != "Screenshot")
        if self.registry is None:
            return
        scopes = getattr(screen, "SCOPES", ())
        for c in self.registry.palette():
            if c.id in ("app.palette", "app.quit") or c.action.startswith("app.pop_screen"):
                continue
            if c.scope != "app" and c.scope not in scopes and not (
                    c.scope.startswith(("panel:", "config:")) and "panels" in scopes):
                continue
            yield SystemCommand(f"{c.title} ({c.display})", f"{c.id} · {c.scope}", partial(self._run, c))

    async def _run(self, command) -> None:
        """A palette entry: run the command's action on the screen (or widget) it belongs to."""
        target = self.screen
        if command.scope == "incident_table" and self.dashboard is not None:
            target = self.dashboard.query_one("#incident-table")
        elif command.scope.startswith(("panel:", "config:")) and self.dashboard is not None:
            target = self
        await self.run_action(command.action, target)

    def action_quit(self) -> None:
        """Quit; while the console is live and an incident is unacknowledged, ask first."""
        waiting = [i for i in self.session.state.incidents if i.state == "triggered"]
        # an attached viewer (console/remote) leaves the incidents with the collector: nothing is lost by quitting
        waiting = [] if getattr(self.session, "attached", False) else waiting
        if waiting and self.view is not None and self.view.mode == "live":
            names = ", ".join(i.id for i in waiting[:5]) + (" …" if len(waiting) > 5 else "")
            why = (f"{len(waiting)} incident{'s' if len(waiting) > 1 else ''} open and unacknowledged ({names})."
                   + ("\nThe demo's incidents are gone once it quits." if self.session.state.scenario else ""))
            from .quit import QuitScreen

            self.push_screen(QuitScreen(why), lambda yes: self.exit() if yes else None)
            return
        self.exit()

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """F12 or the palette: the screen as SVG, written by the console into its data dir; says where."""
        svg = self.export_screenshot()
        self.run_worker(self._write_screenshot(svg), group="screenshot")

    async def _write_screenshot(self, svg: str) -> None:
        res = await self.command({"cmd": "screenshot.write", "svg": svg})
        if res["ok"]:
            self.notify(res["message"], timeout=8)

    def action_help(self) -> None:
        from .help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run_app(args, sim=None, gc_held: bool = False) -> int:
    """`opsconsole demo` / `opsconsole run`: validate the config before the screen opens (exit 2 on error).

    `sim`: the demo's fleet, already starting in a child process (console/sim_process.py)."""
    config_path = getattr(args, "config", None)
    catalog = None
    if config_path:
        from console.catalog import load_catalog

        catalog = load_catalog(config_path, args.env)  # exit 2 with one line, before the screen opens
    session = Session(config_path=config_path, env=args.env, scenario=getattr(args, "scenario", "normal"),
                      seed=getattr(args, "seed", 0), read_only=args.read_only, catalog=catalog,
                      record=getattr(args, "record", None) or "auto",  # the TUI records unless the config says not
                      demo=sim)
    layout = getattr(args, "layout", None) or (catalog.cfg.layout.default if catalog else None)
    app = OpsApp(session, layout=layout, low_bandwidth=low_bandwidth(getattr(args, "low_bandwidth", None)),
                 gc_held=gc_held)
    try:
        app.run()
    except ConfigError as e:
        print(f"opsconsole: {e}", file=sys.stderr)
        return 2
    return app.return_code or 0
