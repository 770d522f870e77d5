"""The picker: choose the item an action applies to (a pipeline, a surface, a flag, a failed execution, a stage)."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from widgets.bindings import install


class PickScreen(ModalScreen[dict | None]):
    """Enter picks the highlighted item; Esc picks nothing."""

    DEFAULT_CSS = """
    PickScreen { align: center middle; }
    PickScreen > Vertical { width: 80; max-width: 95%; height: auto; max-height: 80%;
                            border: round $accent; background: $surface; }
    PickScreen OptionList { height: auto; max-height: 24; border: none; }
    """

    def __init__(self, title: str, items: list[dict]) -> None:
        super().__init__()
        self.title_text = title
        self.items = items

    def compose(self):
        with Vertical() as v:
            v.border_title = f"{self.title_text}: pick one"
            v.border_subtitle = "enter picks · esc cancels"
            yield OptionList(*(Option(Text(i["label"]), id=str(n)) for n, i in enumerate(self.items)))

    def on_mount(self) -> None:
        install(self, "pick")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.items[int(event.option.id)])

    def action_cancel(self) -> None:
        self.dismiss(None)
