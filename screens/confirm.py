"""The confirm dialog: exactly what a mitigation will send, where, and from which runbook line; Cancel by default."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from widgets.bindings import install

from .breakable import Breakable


def plan_table(view: dict) -> Table:
    """The dialog's content from the façade's plan view (plain data, secrets already scrubbed); none of it is markup."""
    t = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    t.add_column(style="dim", no_wrap=True)
    t.add_column(overflow="fold")
    env = Text()
    production = view["production"]
    env.append(f" {view['environment']} " if production else view["environment"],
               "bold reverse red" if production else "bold")
    if view["read_only"]:
        env.append("  read-only: nothing will be sent", style="bold yellow")
    t.add_row("environment", env)
    t.add_row("service", Text(f"{view['service']} ({view['kind']})"))
    for label, text, style in view["rows"]:
        if style.startswith("step:"):
            t.add_row(label, _sent(text, style))
        else:
            t.add_row(label, Text(text, style=style or ""))
    if view["dangerous"]:
        t.add_row("", Text("▲ dangerous: this stops or reduces work", style="bold red"))
    return t


def _sent(text: str, style: str):
    if style == "step:command":
        return Text.assemble(("$ ", "dim"), text.removeprefix("$ "))
    if style != "step:http":
        return Text(text)
    first, _, body = text.partition("\n")
    method, _, url = first.partition(" ")
    # the URL wraps after its separators (/ ? & =), never mid-word (issue 16: `daily-diges` / `t` at 80 columns)
    parts = [Text(method, style="bold"), Breakable(url)] + ([Text(body, style="italic")] if body else [])
    return Group(*parts)


class ConfirmScreen(ModalScreen[bool]):
    """`y` (or Enter on Send) sends; `n`, Esc (or Enter on Cancel, the default) cancels."""

    AUTO_FOCUS = "#cancel"
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 96; max-width: 95%; height: auto; max-height: 90%;
                               border: thick $warning; background: $surface; padding: 0 1; }
    ConfirmScreen.-production > Vertical { border: thick $error; }
    ConfirmScreen #plan { height: auto; max-height: 30; overflow-y: auto; }
    ConfirmScreen #buttons { height: 3; align-horizontal: right; margin-top: 1; }
    ConfirmScreen Button { margin-left: 2; }
    /* Cancel is the default and looks it; Send is outlined, so it never reads as the safe choice */
    ConfirmScreen #send { background: $surface; color: $warning; border: tall $warning; text-style: bold; }
    ConfirmScreen #send.-dangerous { color: $error; border: tall $error; }
    ConfirmScreen #send:focus { background: $warning; color: $surface; }
    ConfirmScreen #send.-dangerous:focus { background: $error; color: $surface; }
    """

    def __init__(self, view: dict) -> None:
        super().__init__()
        self.view = view  # the façade's plan view: what the console will send, exactly

    def compose(self):
        with Vertical() as v:
            v.border_title = self.view["title"]
            v.border_subtitle = "y send · n / esc cancel"
            yield Static(plan_table(self.view), id="plan")
            with Horizontal(id="buttons"):
                yield Button("Cancel (default)", id="cancel", variant="primary")
                yield Button("Send", id="send", classes="-dangerous" if self.view["dangerous"] else "")

    def on_mount(self) -> None:
        install(self, "confirm")
        self.set_class(self.view["production"], "-production")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "send")

    def action_send(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
