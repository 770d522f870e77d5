"""Every key binding in one place, each with an id the config's [keys] table can remap."""

from __future__ import annotations

from textual.binding import Binding

APP = [
    Binding("q", "quit", "Quit", id="app.quit"),
    Binding("question_mark", "help", "Keys", key_display="?", id="app.help"),
    Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette"),
]

DASHBOARD = [
    Binding("enter", "open_detail", "Detail", id="dashboard.detail"),
    Binding("tab", "app.focus_next", "Next panel", show=False, id="dashboard.next"),
    Binding("shift+tab", "app.focus_previous", "Prev panel", show=False, id="dashboard.prev"),
    Binding("right", "move('right')", "→ panel", show=False, id="dashboard.right"),
    Binding("left", "move('left')", "← panel", show=False, id="dashboard.left"),
    Binding("down", "move('down')", "↓ panel", show=False, id="dashboard.down"),
    Binding("up", "move('up')", "↑ panel", show=False, id="dashboard.up"),
]

DETAIL = [
    Binding("escape", "app.pop_screen", "Back", id="detail.back"),
    Binding("backspace", "app.pop_screen", "Back", show=False, id="detail.back2"),
]

HELP = [
    Binding("escape", "app.pop_screen", "Close", id="help.close"),
    Binding("question_mark", "app.pop_screen", "Close", show=False, key_display="?", id="help.close2"),
]

# Shown in the help screen, in this order.
SECTIONS = [("Everywhere", APP), ("Dashboard", DASHBOARD), ("Service detail", DETAIL)]
