"""The top line: environment (red when production), live/replay/read-only, alert counts, the data's UTC time."""

from __future__ import annotations

from datetime import datetime, timezone

from textual.containers import Horizontal

from console.state import ConsoleState

from .figure import Figure


class HeaderBar(Horizontal):
    DEFAULT_CSS = """
    HeaderBar { height: 1; background: $panel; }
    HeaderBar Figure { width: auto; padding: 0 1; }
    HeaderBar #hdr-clock { dock: right; }
    """

    def __init__(self, production: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.production = production
        self.ident = Figure(id="hdr-ident")
        self.alerts = Figure(id="hdr-alerts")
        self.clock = Figure(id="hdr-clock")

    def compose(self):
        yield self.ident
        yield self.alerts
        yield self.clock

    def show(self, state: ConsoleState) -> None:
        env = f"[bold reverse $error] {state.environment} [/]" if self.production else f"[bold]{state.environment}[/]"
        mode = "[bold $warning]REPLAY[/]" if state.mode == "replay" else "[$success]LIVE[/]"
        ro = "  [$warning]READ-ONLY[/]" if state.read_only else ""
        scen = f"  scenario [italic]{state.scenario}[/]" if state.scenario else ""
        self.ident.set(f"[b]opsconsole[/]  env {env}  {mode}{ro}{scen}")
        firing = len(state.firing)
        pending = len(state.active()) - firing
        self.alerts.set(
            (f"[bold $error]● {firing} firing[/]" if firing else "[$success]● 0 firing[/]")
            + (f"  [$warning]◌ {pending} pending[/]" if pending else "")
        )
        t = datetime.fromtimestamp(state.ts, tz=timezone.utc)
        self.clock.set(t.strftime("%Y-%m-%d %H:%M:%S UTC"))
