"""The confirm dialog: exactly what a mitigation will send, where, and from which runbook line; Cancel by default."""

from __future__ import annotations

import json
from typing import Callable

from rich.table import Table
from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from console.mitigations.catalog import render
from console.mitigations.executor import Plan, Step

from . import keymap


def _sent(step: Step) -> Text:
    if step.kind == "http":
        body = "" if step.body is None else "\n" + json.dumps(step.body, indent=None)
        return Text.assemble((step.method, "bold"), " ", step.url, (body, "italic"))
    if step.kind == "ssm":
        return Text(step.summary())
    return Text.assemble(("$ ", "dim"), step.summary()[2:])


def proof_text(plan: Plan) -> str:
    """What the re-poll after sending must show, e.g. `intake: mode = "pause"`."""
    p = plan.action.proves
    v = plan.steps[0].values
    where = p.endpoint + ": "
    if p.rows:
        match = ", ".join(f"{k}={render(m, v)}" for k, m in p.match.items())
        where += f"{p.rows}[{match}]" if len(plan.steps) == 1 else f"{p.rows}[each {', '.join(p.match)}]"
        where += f".{p.field}" if p.field else ""
    else:
        where += p.field or ""
    expected = "" if p.op == "absent" else json.dumps(render(p.value, v))
    op = {"equals": "=", "contains": "contains", "excludes": "excludes", "absent": "no longer listed",
          "decreased": "below"}[p.op]
    text = f"{where} {op} {expected}".rstrip() + (" (or 0)" if p.op == "decreased" else "")
    if p.propagation:
        text += f"; then executions, within the {p.propagation / 60:g} min cache"
    return text + ", re-polled after sending"


def plan_table(plan: Plan, clean: Callable[[str], str]) -> Table:
    """The dialog's content; every text goes through `clean` (secrets scrubbed) and none is markup."""
    t = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    t.add_column(style="dim", no_wrap=True)
    t.add_column(overflow="fold")
    production = plan.production or plan.environment == "production"
    env = Text()
    env.append(f" {plan.environment} " if production else plan.environment, "bold reverse red" if production else "bold")
    if plan.read_only:
        env.append("  read-only: nothing will be sent", style="bold yellow")
    t.add_row("environment", env)
    t.add_row("service", Text(f"{plan.service.name} ({plan.action.kind})"))
    if plan.target:
        t.add_row("target", Text(clean(plan.target)))
    for i, step in enumerate(plan.steps):
        t.add_row("sends" if i == 0 else "", Text(clean(_sent(step).plain)))
    t.add_row("auth", Text(clean(plan.auth)))
    if plan.action.proves is not None:
        t.add_row("proves", Text(clean(proof_text(plan))))
    t.add_row("runbook", Text(plan.action.runbook))
    if plan.action.line:
        t.add_row("", Text(clean(plan.action.line), style="italic"))
    if plan.action.dangerous:
        t.add_row("", Text("▲ dangerous: this stops or reduces work", style="bold red"))
    return t


class ConfirmScreen(ModalScreen[bool]):
    """`y` (or Enter on Send) sends; `n`, Esc (or Enter on Cancel, the default) cancels."""

    BINDINGS = keymap.CONFIRM
    AUTO_FOCUS = "#cancel"
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 96; max-width: 95%; height: auto; max-height: 90%;
                               border: thick $warning; background: $surface; padding: 0 1; }
    ConfirmScreen.-production > Vertical { border: thick $error; }
    ConfirmScreen #plan { height: auto; max-height: 30; overflow-y: auto; }
    ConfirmScreen #buttons { height: 3; align-horizontal: right; margin-top: 1; }
    ConfirmScreen Button { margin-left: 2; }
    """

    def __init__(self, plan: Plan, clean: Callable[[str], str]) -> None:
        super().__init__()
        self.plan = plan
        self.clean = clean

    def compose(self):
        with Vertical() as v:
            undo = f"Undo #{self.plan.inverse_of}: " if self.plan.inverse_of is not None else ""
            v.border_title = f"{undo}{self.plan.action.title}"
            v.border_subtitle = "y send · n / esc cancel"
            yield Static(plan_table(self.plan, self.clean), id="plan")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", variant="default")
                yield Button("Send", id="send", variant="error" if self.plan.action.dangerous else "warning")

    def on_mount(self) -> None:
        self.set_class(self.plan.production or self.plan.environment == "production", "-production")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "send")

    def action_send(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
