"""An incident: its playbook with live values, mitigations as keys, a plot with the threshold, drafts, timeline."""

from __future__ import annotations

from rich.text import Text
from textual.containers import ScrollableContainer, Vertical, VerticalScroll
from console.safe_text import markup_escape as escape
from textual.screen import Screen
from textual.widgets import Static

from console.incidents import comms
from console.clock import hms
from console.incidents.manager import Incident
from console.incidents.playbooks import Playbook, playbook_for, split_threshold
from console.state import ConsoleState
from widgets.fmt import age
from widgets.footer import KeysFooter
from widgets.header_bar import HeaderBar
from widgets.incident_table import state_text
from widgets.incident_timeline import IncidentTimeline
from widgets.series_chart import SeriesChart

from widgets.bindings import HelpFirst, install

from .dirty_only import DirtyOnly
from .visibility import showing

from .incident_dialog import incident_verb

PLOT_REFRESH = 30.0
PLOT_REFRESH_LOW_BANDWIDTH = 60.0  # over SSH: a plot redraw is most of a screen's bytes
LEAD = 900.0  # the plot starts 15 min before the incident opened: what led to it
MAX_SPAN = 6 * 3600.0


def _timers(inc: Incident, now: float) -> str:
    parts = []
    for t in inc.timers(now):
        text = f"{t.name} {age(t.elapsed)} / {age(t.target)}"
        parts.append(f"[$error]▲ {text}[/]" if t.over else (f"[$success]✓ {text}[/]" if t.done else text))
    due = inc.next_update()
    if due is not None:
        parts.append(f"[$error]▲ stakeholder update overdue {age(now - due)}[/]" if now > due
                     else f"next stakeholder update in {age(due - now)}")
    return "  ·  ".join(parts)


def head_text(inc: Incident, now: float) -> str:
    state = state_text(inc).markup
    where = inc.runbook.replace("#", " § ") if inc.runbook else "no runbook"
    origin = {"rule": f"rule {inc.rule}", "alertmanager": f"Alertmanager {inc.service}",
              "path_tracker": f"{inc.service} alert history"}.get(inc.source, inc.source)
    summary = inc.summary + (f" — {inc.info['description']}" if inc.info.get("description") else "")  # rule files
    return (f"[b]{inc.id}[/]  [b]{inc.severity}[/]  {state}  [b]{escape(inc.title)}[/]  [dim]{escape(summary)}[/]\n"
            f"opened {hms(inc.opened_at)} UTC ({age(now - inc.opened_at)} ago) from {escape(origin)} · "
            f"runbook [dim]{escape(where)}[/]{_sharing(inc, now)}\n{_timers(inc, now)}")


def _sharing(inc: Incident, now: float) -> str:
    """Whether Alertmanager has it (so other consoles show it), and who holds the ack, for how long."""
    out = ""
    if inc.shared is not None:
        out = " · [$success]shared[/]" if inc.shared == "shared" else f" · [bold $warning]{escape(inc.shared)}[/]"
    if inc.state == "acknowledged":
        ack = next((e for e in reversed(inc.timeline) if e.kind == "state" and e.state == "acknowledged"), None)
        if ack is not None:
            out += f" · acked by [b]{escape(ack.who or '?')}[/] {age(now - ack.ts)} ago"
    return out


def stale_text(stale: list[dict]) -> str:
    """Ack silences that match no alert any more: they would mute the next page."""
    rows = [f"[b]{escape(s['id'][:8])}[/] {escape(s.get('created_by') or '?')} until {escape(s.get('ends_at') or '?')}"
            f"  [dim]{escape(s.get('comment') or '')}[/]" for s in stale]
    return "\n".join(rows) + "\n[dim]X expires the first one listed[/]"


def playbook_text(pb: Playbook, values: list[list[tuple[str, str]]]) -> str:
    out = [f"[b]Symptoms[/]"] + [f"  • {escape(s)}" for s in pb.symptoms]
    out.append("[b]Diagnosis[/]")
    for n, (step, live) in enumerate(zip(pb.diagnosis, values), 1):
        out.append(f"  {n}. {escape(step.text)}")
        out += [f"     [$accent]→[/] {escape(k)}: [b]{escape(v)}[/]" for k, v in live]
    out.append("[b]Resolution[/]")
    out += [f"  • {escape(r)}" for r in pb.resolution]
    if pb.escalation:
        out.append(f"[b]Escalation[/]\n  {escape(pb.escalation)}")
    return "\n".join(out)


def alert_text(inc: Incident) -> str:
    """An alert from outside the rules: what its source says about it, then its labels."""
    rows = [f"[b]{escape(k)}[/] {escape(v)}" for k, v in inc.info.items()]
    rows += [f"[dim]label[/] [b]{escape(k)}[/] {escape(v)}" for k, v in sorted(inc.labels.items())]
    return "\n".join(rows) or "[dim]nothing known[/]"


class IncidentDetail(DirtyOnly, HelpFirst, Screen):
    SCOPES = ("incident_detail",)
    DEFAULT_CSS = """
    IncidentDetail #inc-head { height: 3; padding: 0 1; background: $panel; }
    IncidentDetail #inc-body { height: 1fr; layout: horizontal; }
    IncidentDetail #inc-left, IncidentDetail #inc-right { width: 1fr; }
    IncidentDetail .box { border: round $panel-lighten-2; height: auto; padding: 0 1; }
    IncidentDetail #inc-plot { height: 14; }
    IncidentDetail #inc-draft { border: round $accent; }
    IncidentDetail.-narrow #inc-head { height: auto; }
    IncidentDetail.-narrow #inc-body { layout: vertical; overflow-y: auto; }
    IncidentDetail.-narrow #inc-left, IncidentDetail.-narrow #inc-right { width: 1fr; height: auto; }
    IncidentDetail.-narrow IncidentTimeline { height: 14; }
    """

    def __init__(self, incident: Incident, production: bool = False) -> None:
        super().__init__()
        self.inc = incident
        self.pb = playbook_for(incident.runbook)
        self.mitigations: list[list[str]] = []  # [action id, title], keys 1-9
        self.live: list[list[list[str]]] = [[] for _ in self.pb.diagnosis]  # the playbook's live values
        self.production = production
        self.templates = comms.templates_for(incident)
        self.draft = 0
        self.now = incident.opened_at
        self._shown: dict[str, str] = {}
        self.stale: list[dict] = []  # ack silences matching no alert (state.stale_acks)

    def compose(self):
        yield HeaderBar(production=self.production)
        yield Static(id="inc-head")
        with ScrollableContainer(id="inc-body"):  # scrolls (keys too) in the narrow, one-column layout
            with VerticalScroll(id="inc-left"):
                yield Static(id="inc-playbook", classes="box")
                yield Static(id="inc-mitigations", classes="box")
            with Vertical(id="inc-right"):
                if self.inc.expr:
                    yield SeriesChart("value", id="inc-plot")
                else:
                    yield Static(id="inc-alert", classes="box")
                yield Static(id="inc-stale", classes="box")
                yield Static(id="inc-draft", classes="box")
                yield IncidentTimeline(id="inc-timeline")
        yield KeysFooter()

    def on_mount(self) -> None:
        install(self, "incident_detail")
        self.now = self.app.session.state.ts
        self.query_one("#inc-playbook").border_title = f"Playbook · {self.pb.title}"
        self.query_one("#inc-mitigations").border_title = "Mitigations"
        self.query_one("#inc-stale").border_title = "Stale ack silences (match no alert)"
        self.query_one("#inc-stale").display = False
        self.query_one("#inc-mitigations", Static).update(self._mitigations_text())
        if self.inc.expr:
            low = getattr(self.app, "low_bandwidth", False)
            self.set_interval(PLOT_REFRESH_LOW_BANDWIDTH if low else PLOT_REFRESH, self._load_plot)
            self._load_plot()
        else:
            self.query_one("#inc-alert").border_title = f"Alert · {self.inc.source} {self.inc.service}"

    def on_resize(self, event) -> None:
        self.set_class(event.size.width < 110, "-narrow")  # one scrolling column

    # --- rendering ------------------------------------------------------------------------

    def _mitigations_text(self) -> str:
        if not self.mitigations:
            return "[dim]The playbook names no mitigation the console can run.[/]"
        lines = [f"[b]{n}[/] {escape(title)} [dim]({escape(a)})[/]" for n, (a, title) in enumerate(self.mitigations, 1)]
        if "send" in self.app.refused:
            lines.append("[dim]listed only: " + ("replay" if "change" in self.app.refused else "read-only")
                         + " sends nothing[/]")
        return "\n".join(lines)

    def show(self, state: ConsoleState) -> None:
        if not showing(self) or not self.is_mounted:  # a state can arrive between push and compose
            return
        self.inc = inc = next((i for i in state.incidents if i.id == self.inc.id), self.inc)
        self.now = state.ts
        self.run_worker(self._load_view(), group="incident-view", exclusive=True)
        with self.app.batch_update():
            self.query_one(HeaderBar).show(state)
            self._set("#inc-head", head_text(inc, state.ts))
            self._set("#inc-playbook", playbook_text(self.pb, self.live))
            if not inc.expr:
                self._set("#inc-alert", alert_text(inc))
            self._show_draft(state.ts)
            self.stale = list(state.stale_acks)
            self.query_one("#inc-stale").display = bool(self.stale)
            if self.stale:
                self._set("#inc-stale", stale_text(self.stale))
            self.query_one(IncidentTimeline).show(inc)

    def _set(self, selector: str, text: str) -> None:
        """Update a box only when its text changed (the state arrives every tick)."""
        if self._shown.get(selector) != text:
            self._shown[selector] = text
            self.query_one(selector, Static).update(text)

    async def _load_view(self) -> None:
        """The incident's mitigations and the playbook's live values, as the console computes them now."""
        res = await self.app.session.request({"cmd": "incident.view", "id": self.inc.id})
        if not res["ok"] or not self.is_mounted:
            return
        if res["mitigations"] != self.mitigations:
            self.mitigations = res["mitigations"]
            self._set("#inc-mitigations", self._mitigations_text())
        self.live = res["live"]
        self._set("#inc-playbook", playbook_text(self.pb, self.live))

    def _draft_text(self, now: float) -> str:
        return comms.render(self.templates[self.draft], self.inc, now)

    def _show_draft(self, now: float) -> None:
        box = self.query_one("#inc-draft", Static)
        names = "  ".join(f"[reverse] {t} [/]" if i == self.draft else t for i, t in enumerate(self.templates))
        box.border_title = f"Draft: {names}"
        box.border_subtitle = "t next · c copy (OSC 52) · e write to a file"
        box.update(Text(self._draft_text(now)))  # plain text: "[INCIDENT]" is not markup

    def _load_plot(self) -> None:
        self.run_worker(self._plot_worker(), group="incident-plot", exclusive=True)

    async def _plot_worker(self) -> None:
        expr, threshold = split_threshold(self.inc.expr)
        now = self.now
        resolved = None if self.inc.is_open else self.inc.resolved_at
        span = min(MAX_SPAN, max(now - (self.inc.opened_at - LEAD), 600.0))
        step = max(5.0, round(span / 120 / 5) * 5)
        now, results = await self.app.plot_data([expr], span, step)
        chart = self.query_one("#inc-plot", SeriesChart)
        # from the first point drawn: a console started after the lead-in has nothing earlier to plot
        start = results[0][0][0] if results[0] else now - span
        chart.border_title = (f"{self.inc.rule} from {hms(start)} UTC"
                              + (f" · threshold {threshold:g}" if threshold is not None else "")
                              + (f" · resolved {hms(resolved)}" if resolved else ""))
        chart.set_series(results[0], now, threshold)

    # --- keys -----------------------------------------------------------------------------

    def action_incident(self, verb: str) -> None:
        incident_verb(self.app, verb, self.inc.id)

    async def action_expire_stale_ack(self) -> None:
        if not self.stale:
            self.app.notify("No stale ack silence", timeout=3)
            return
        res = await self.app.command({"cmd": "incident.expire_silence", "silence_id": self.stale[0]["id"]})
        if res["ok"]:
            self.app.notify(res["message"], timeout=4)

    def action_next_draft(self) -> None:
        self.draft = (self.draft + 1) % len(self.templates)
        self._show_draft(self.now)

    async def action_copy_draft(self) -> None:
        self.app.copy_to_clipboard(self._draft_text(self.now))
        res = await self.app.command({"cmd": "draft.copied", "id": self.inc.id, "template": self.templates[self.draft]})
        if res["ok"]:
            self.app.notify(res["message"], timeout=3)

    async def action_export_draft(self) -> None:
        template = self.templates[self.draft]
        res = await self.app.command({"cmd": "draft.write", "id": self.inc.id, "template": template,
                                      "text": self._draft_text(self.now)})
        if res["ok"]:
            self.app.notify(res["message"], timeout=6)

    def action_mitigation(self, n: int) -> None:
        if n > len(self.mitigations):
            self.app.notify(f"No mitigation {n} in this playbook", severity="warning", timeout=3)
            return
        self.app.request_action(self.mitigations[n - 1][0])
