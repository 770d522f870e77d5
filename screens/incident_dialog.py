"""The incident verbs (acknowledge, mitigating, resolve, ...) for the table and the detail, with their small dialog."""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from console.durations import parse_duration
from console.incidents.manager import ALLOWED, Incident, IncidentError

from . import keymap

SILENCE_DURATIONS = [("15 minutes", "15m"), ("1 hour", "1h"), ("4 hours", "4h"), ("24 hours", "24h")]
DONE = {"acknowledge": "acknowledged", "unacknowledge": "unacknowledged", "mitigating": "marked mitigating",
        "resolve": "resolved", "document": "documented"}


class IncidentDialog(ModalScreen[dict | None]):
    """A few text fields (and a silence duration); Enter confirms, Esc cancels."""

    BINDINGS = keymap.INCIDENT_DIALOG
    DEFAULT_CSS = """
    IncidentDialog { align: center middle; }
    IncidentDialog > Vertical { width: 76; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    IncidentDialog Label { margin-top: 1; }
    IncidentDialog #buttons { height: auto; margin-top: 1; align-horizontal: right; }
    IncidentDialog Button { margin-left: 1; }
    """

    def __init__(self, title: str, ok: str, fields: list[tuple[str, str]], durations: bool = False) -> None:
        super().__init__()
        self.title_text, self.ok, self.fields, self.durations = title, ok, fields, durations

    def compose(self):
        with Vertical() as box:
            box.border_title = self.title_text
            box.border_subtitle = "enter: next field, confirms on the last · esc cancels"
            if self.durations:
                yield Label("Silence in Alertmanager for")
                yield Select(SILENCE_DURATIONS, value="1h", allow_blank=False, id="duration")
            for key, label in self.fields:
                yield Label(label)
                yield Input(id=key)
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self.ok, variant="primary", id="ok")

    def on_mount(self) -> None:
        first = self.query(Input).first() if self.fields else self.query_one("#ok")
        first.focus()

    def _values(self) -> dict:
        out = {key: self.query_one(f"#{key}", Input).value.strip() for key, _ in self.fields}
        if self.durations:
            out["duration"] = parse_duration(self.query_one("#duration", Select).value)
        return out

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next field; on the last one it confirms."""
        event.stop()
        inputs = list(self.query(Input))
        at = inputs.index(event.input)
        if at + 1 < len(inputs):
            inputs[at + 1].focus()
        else:
            self.dismiss(self._values())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self._values() if event.button.id == "ok" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _dialog(verb: str, inc: Incident) -> IncidentDialog | None:
    if verb == "acknowledge" and inc.source == "alertmanager":
        return IncidentDialog(f"Acknowledge {inc.id} (creates a silence)", "Acknowledge",
                              [("comment", "Comment (shown with the silence)")], durations=True)
    if verb == "resolve":
        return IncidentDialog(f"Resolve {inc.id}: {inc.title}", "Resolve",
                              [("resolution", "Resolution (what fixed it)"), ("root_cause", "Root cause"),
                               ("postmortem_date", "Postmortem scheduled for")])
    return None


async def _apply(app, verb: str, inc: Incident, values: dict) -> None:
    mgr = app.engine.incidents
    try:
        if verb == "acknowledge":
            await mgr.acknowledge(inc.id, comment=values.get("comment", ""), duration=values.get("duration", 3600.0))
        elif verb == "unacknowledge":
            await mgr.unacknowledge(inc.id)
        elif verb == "resolve":
            if values.get("postmortem_date"):
                inc.notes["postmortem_date"] = values["postmortem_date"]
            mgr.resolve(inc.id, resolution=values.get("resolution", ""), root_cause=values.get("root_cause", ""))
        else:
            getattr(mgr, verb)(inc.id)
    except IncidentError as e:
        app.notify(str(e), severity="error", timeout=6)
        return
    app.notify(f"{inc.id} {DONE[verb]}", timeout=3)
    state = app.engine.state
    state.incidents = mgr.visible()  # show it now, not at the next tick
    show = getattr(app.screen, "show", None)
    if show is not None:
        show(state)


def incident_verb(app, verb: str, incident_id: str | None) -> None:
    """Run a verb on an incident: ask first where the runbook needs words or a duration, then apply in a worker."""
    if incident_id is None:
        app.notify("No incident selected", severity="warning", timeout=3)
        return
    try:
        inc = app.engine.incidents.get(incident_id)
    except IncidentError as e:
        app.notify(str(e), severity="warning", timeout=3)
        return
    if inc.state not in ALLOWED[verb][0]:
        app.notify(f"{inc.id} is {inc.state}: cannot {verb}", severity="warning", timeout=4)
        return
    dialog = _dialog(verb, inc)

    def go(values: dict | None) -> None:
        if values is not None:
            app.run_worker(_apply(app, verb, inc, values), group="incident", exit_on_error=False)

    if dialog is None:
        go({})
    else:
        app.push_screen(dialog, go)
