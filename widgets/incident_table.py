"""Active incidents: every pending or firing rule, firing first and newest first, with severity and runbook."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical

from console.state import ConsoleState, RuleState

from .figure import set_subtitle
from .fmt import coarse_age
from .keyed_table import KeyedTable

SEV = {"P1": "bold white on red", "P2": "bold red", "P3": "yellow", "P4": "cyan"}


def _value(v) -> str:
    if v is None:
        return "?"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def incident_rows(state: ConsoleState) -> list[tuple[str, tuple]]:
    rows = []
    for r in state.active():
        since = r.fired_at if r.state == "firing" else r.active_since
        st = Text("● FIRING", style="bold red") if r.state == "firing" else Text("◌ pending", style="yellow")
        section = r.runbook.split("#", 1)[-1] if r.runbook else ""
        rows.append((r.key, (Text(r.severity, style=SEV.get(r.severity, "")), st, r.service, r.name,
                             coarse_age(state.ts - since) if since is not None else "?", _value(r.value), section)))
    return rows


class IncidentTable(Vertical):
    DEFAULT_CSS = """
    IncidentTable { border: round $panel-lighten-2; height: 1fr; }
    IncidentTable:focus-within { border: round $accent; }
    IncidentTable.-firing { border: round $error; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "Active incidents"
        self.table = KeyedTable(["sev", "state", "service", "rule", "for", "value", "runbook"], id="incident-table")
        self._rules: dict[str, RuleState] = {}

    def compose(self):
        yield self.table

    def show(self, state: ConsoleState) -> None:
        self.table.sync(incident_rows(state))
        self._rules = {r.key: r for r in state.active()}
        firing = len(state.firing)
        pending = len(self._rules) - firing
        self.set_class(firing > 0, "-firing")
        set_subtitle(self, f"{firing} firing, {pending} pending" if self._rules else "all clear")

    @property
    def selected(self) -> RuleState | None:
        key = self.table.selected_key
        return self._rules.get(key) if key else None

    @property
    def service(self) -> str | None:
        r = self.selected
        return r.service if r else None
