"""Incidents: open first (by severity, newest first), with state, response timer and update countdown; then pending rules."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable

from console.incidents.manager import Incident
from console.state import ConsoleState

from .bindings import install
from .figure import set_subtitle
from .fmt import coarse_age
from .keyed_table import KeyedTable
from .paint_once import PaintOnce

SEV = {"P1": "bold white on red", "P2": "bold red", "P3": "yellow", "P4": "cyan"}
STATE = {"triggered": ("● triggered", "bold red"), "acknowledged": ("◐ acknowledged", "yellow"),
         "mitigating": ("◑ mitigating", "cyan"), "resolved": ("✓ resolved", "green"),
         "documented": ("✓ documented", "dim")}
SHORT = {"acknowledge": "ack", "assess": "assess", "mitigate": "mitig"}
# Cells are padded to fixed widths: a cell updated in place does not widen its column (78 columns fit).
TITLE_WIDTH, STATE_WIDTH, TARGET_WIDTH, UPDATE_WIDTH = 18, 14, 15, 10


def _minutes(seconds: float) -> int:
    """Whole minutes: these cells change once a minute, not every tick."""
    return int(max(0, seconds)) // 60


def _cell(text: str, width: int, style: str = "") -> Text:
    return Text(text.ljust(width), style=style)


def state_text(inc: Incident) -> Text:
    """The state, and `↺ recovered` when the alert cleared (resolving stays a human decision)."""
    label, style = STATE.get(inc.state, (inc.state, ""))
    text = Text(label, style=style)
    if inc.recovered_at is not None and inc.is_open:
        text.append(" · ↺ recovered", style="green")
    return text


def state_cell(inc: Incident) -> Text:
    if inc.recovered_at is not None and inc.is_open:  # the target column still says what is owed
        return _cell("↺ recovered", STATE_WIDTH, "green")
    label, style = STATE.get(inc.state, (inc.state, ""))
    return _cell(label, STATE_WIDTH, style)


def timer_cell(inc: Incident, now: float) -> Text:
    """The response target the incident is working towards now (runbook 004), red with ▲ when overdue."""
    if not inc.is_open:
        resolved = inc.resolved_at
        return _cell(f"took {_minutes(resolved - inc.cycle_start)}m" if resolved else "", TARGET_WIDTH, "dim")
    t = next((t for t in inc.timers(now) if not t.done), None)
    if t is None:
        return _cell("✓ mitigated", TARGET_WIDTH, "green")
    text = f"{SHORT[t.name]} {_minutes(t.elapsed)}/{_minutes(t.target)}m"
    return _cell(f"▲ {text}", TARGET_WIDTH, "bold red") if t.over else _cell(text, TARGET_WIDTH)


def update_cell(inc: Incident, now: float) -> Text:
    """P1/P2: the countdown to the next stakeholder update (every 15 min); red with ▲ when overdue."""
    due = inc.next_update()
    if due is None:
        return _cell("", UPDATE_WIDTH)
    if due >= now:
        return _cell(f"in {_minutes(due - now + 59)}m", UPDATE_WIDTH)
    return _cell(f"▲ {_minutes(now - due)}m late", UPDATE_WIDTH, "bold red")


SAME_FOR_ALL = {"job", "instance", "alertname", "severity", "__name__"}  # never what tells two incidents apart
OTHER_COLUMNS = 6 + 3 + STATE_WIDTH + TARGET_WIDTH + UPDATE_WIDTH + 6 * 2 + 3  # id, sev, the rest, padding, border


def fit(text: str, width: int) -> str:
    """Cut to the column with an ellipsis (never silently), padded so an update in place keeps the width."""
    return (text if len(text) <= width else text[: width - 1] + "…").ljust(width)


def owner(inc: Incident) -> str | None:
    """Who acknowledged it or took mitigation (with the viewer it came from, when attached), while it is theirs."""
    if inc.state not in ("acknowledged", "mitigating"):
        return None
    entry = next((e for e in reversed(inc.timeline) if e.kind == "state" and e.state == inc.state), None)
    return entry.who if entry is not None and entry.who and entry.who != "console" else None


def name_cell(title: str, labels: dict[str, str], width: int, style: str = "", by: str | None = None) -> Text:
    """The title, and under it the labels that tell it from its siblings (`type=upgrade_clicked`, or only their
    values where the names do not fit), each cut with an ellipsis to the column (such a row is two lines high)."""
    own = sorted((k, v) for k, v in labels.items() if k not in SAME_FOR_ALL)
    told = " ".join(f"{k}={v}" for k, v in own)
    told = told if len(told) <= width else " ".join(v for _, v in own)
    if by:
        told = f"by {by}" + (f" · {told}" if told else "")
    return Text(fit(title, width) + (f"\n{fit(told, width)}" if told else ""), style=style)


COLUMNS = ["id", "sev", "state", "incident", "target", "upd"]
# Narrower than this (120 columns: the right half is ~58 wide), the severity goes under the id and the response
# target under the state, so the title keeps room and the stakeholder-update column stays on screen.
STACKED_COLUMNS = ["id/sev", "state/target", "incident", "upd"]
STACKED_OTHER = 6 + max(STATE_WIDTH, TARGET_WIDTH) + UPDATE_WIDTH + 4 * 2 + 2  # + the scrollbar (size is inside the border)
WIDE_ENOUGH = OTHER_COLUMNS + 30  # one-line rows only where the title still gets 30 columns


def _stack(top: Text, bottom: Text) -> Text:
    return Text.assemble(top, "\n", bottom)


def incident_rows(state: ConsoleState, title_width: int = TITLE_WIDTH,
                  stacked: bool = False) -> list[tuple[str, tuple]]:
    rows = []
    for inc in state.incidents:
        sev = Text(inc.severity, style=SEV.get(inc.severity, ""))
        name, st, timer, upd = (name_cell(inc.title, inc.labels, title_width, by=owner(inc)), state_cell(inc),
                                timer_cell(inc, state.ts), update_cell(inc, state.ts))
        cells = (_stack(Text(inc.id), sev), _stack(st, timer), name, upd) if stacked else \
            (inc.id, sev, st, name, timer, upd)
        rows.append((inc.id, cells))
    opened = {i.key for i in state.incidents if i.is_open}
    for r in state.active():
        if r.state == "pending" and r.key not in opened:  # not an incident yet: shown so nobody is surprised
            since = r.active_since
            name = f"{r.name} on {r.service or 'unassigned'}"  # unassigned: a rule-file alert of no configured service
            sev, st = Text(r.severity, style="dim"), _cell("◌ pending", STATE_WIDTH, "dim yellow")
            held = _cell(f"for {coarse_age(state.ts - since)}" if since else "", TARGET_WIDTH)
            title = name_cell(name, r.labels, title_width, "dim")
            cells = (_stack(Text(""), sev), _stack(st, held), title, _cell("", UPDATE_WIDTH)) if stacked else \
                ("", sev, st, title, held, _cell("", UPDATE_WIDTH))
            rows.append((f"rule:{r.key}", cells))
    return rows


class _Table(KeyedTable):
    def on_mount(self) -> None:
        install(self, "incident_table")

    def action_incident(self, verb: str) -> None:
        self.post_message(IncidentTable.Requested(verb, self.parent.selected_id))


class IncidentTable(PaintOnce, Vertical):
    DEFAULT_CSS = """
    IncidentTable { border: round $panel-lighten-2; height: 1fr; }
    IncidentTable:focus-within { border: round $accent; }
    IncidentTable.-firing { border: round $error; }
    """

    class Requested(Message):
        """A verb on an incident (acknowledge, mitigating, resolve, open): the app carries it out."""

        def __init__(self, verb: str, incident_id: str | None) -> None:
            super().__init__()
            self.verb, self.incident_id = verb, incident_id

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "Active incidents"
        self.table = _Table(COLUMNS, id="incident-table")
        self._services: dict[str, str] = {}

    def compose(self):
        yield self.table

    def show(self, state: ConsoleState) -> None:
        # the incident column takes the width the others leave: two incidents must be told apart at a glance
        # ids are INC-7, or INC- and six letters when incidents are shared: the id column is as wide as the longest
        width = (self.size.width or 78) - max([0] + [len(i.id) - 6 for i in state.incidents])
        stacked = width < WIDE_ENOUGH
        self.table.set_columns(STACKED_COLUMNS if stacked else COLUMNS)
        rows = incident_rows(state, max(TITLE_WIDTH, width - OTHER_COLUMNS) if not stacked
                             else max(12, width - STACKED_OTHER), stacked)
        self.table.sync(rows)
        self._services = {i.id: i.service for i in state.incidents}
        self._services.update({f"rule:{r.key}": r.service for r in state.active()})
        open_ = [i for i in state.incidents if i.is_open]
        untouched = sum(i.state == "triggered" for i in open_)
        self.set_class(untouched > 0, "-firing")
        pending = sum(key.startswith("rule:") for key, _ in rows)
        parts = [f"{len(open_)} open", f"{untouched} unacknowledged"] if open_ else ["no open incident"]
        set_subtitle(self, ", ".join(parts + ([f"{pending} pending"] if pending else [])))

    @property
    def selected_id(self) -> str | None:
        """The selected incident's id (None on a pending rule's row)."""
        key = self.table.selected_key
        return key if key and not key.startswith("rule:") else None

    @property
    def service(self) -> str | None:
        key = self.table.selected_key
        return self._services.get(key) if key else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.selected_id is None:
            return  # a pending rule: the dashboard opens its service's detail
        event.stop()
        self.post_message(self.Requested("open", self.selected_id))
