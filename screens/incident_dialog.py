"""The incident verbs (acknowledge, mitigating, resolve, ...) for the table and the detail, with their small dialog."""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from console.durations import parse_duration
from console.incidents.manager import ALLOWED, Incident

from widgets.bindings import install

SILENCE_DURATIONS = [("15 minutes", "15m"), ("1 hour", "1h"), ("4 hours", "4h"), ("24 hours", "24h")]


class IncidentDialog(ModalScreen[dict | None]):
    """A few text fields (and a silence duration); Enter confirms, Esc cancels."""

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
        install(self, "incident_dialog")
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


def incident_verb(app, verb: str, incident_id: str | None) -> None:
    """Run a verb on an incident: ask first where the runbook needs words or a duration, then send the command.

    In replay nothing is asked: the façade refuses at once, in one line.
    """
    if incident_id is None:
        app.notify("No incident selected", severity="warning", timeout=3)
        return
    inc = next((i for i in app.session.state.incidents if i.id == incident_id), None)
    if inc is None:
        app.notify(f"{incident_id} is no longer listed", severity="warning", timeout=3)
        return
    allowed = inc.state in ALLOWED[verb][0]
    dialog = _dialog(verb, inc) if allowed and "change" not in app.refused else None

    def go(values: dict | None) -> None:
        if values is not None:
            app.run_worker(_send(app, {"cmd": "incident.verb", "verb": verb, "id": incident_id, **values}),
                           group="incident", exit_on_error=False)

    if dialog is None:
        go({})
    else:
        app.push_screen(dialog, go)


async def _send(app, cmd: dict) -> None:
    result = await app.command(cmd)
    if result["ok"]:
        app.notify(result["message"], timeout=3)
