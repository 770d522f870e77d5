"""The war-room wall (`--layout wall`): incidents first, counts in large digits, one tile per service.

Read from across the room, useful without a keyboard: no tables to move through, no kill switches, no
activity. It renders the `ConsoleState` it is handed, like every screen; `w` goes back to the dashboard.
"""

from __future__ import annotations

from textual.screen import Screen

from widgets.bindings import HelpFirst, install
from widgets.footer import KeysFooter
from widgets.header_bar import HeaderBar
from widgets.wall_counts import WallCounts
from widgets.wall_incidents import WallIncidents
from widgets.wall_tiles import WallTiles

from .dirty_only import DirtyOnly
from .visibility import ShowsState


class Wall(DirtyOnly, HelpFirst, ShowsState, Screen):
    SCOPES = ("wall",)  # whose commands the palette offers here
    DEFAULT_CSS = """
    Wall { layout: vertical; }
    Wall > WallIncidents { height: 1fr; }
    Wall.-short > KeysFooter { display: none; }
    Wall.-narrow ServiceTile { padding: 0; }
    Wall.-narrow SeverityCount { width: 10; }
    Wall.-narrow #count-unacked { width: 13; }  /* its title whole: "unacked" */
    Wall.-narrow NextTarget { width: 1fr; }
    Wall.-tall ServiceTile { padding: 1 2; }
    """

    def __init__(self, production: bool = False) -> None:
        super().__init__()
        self.production = production

    def compose(self):
        yield HeaderBar(production=self.production)
        yield WallCounts()
        yield WallIncidents()
        yield WallTiles()
        yield KeysFooter()

    def on_mount(self) -> None:
        install(self, "wall")
        if self.app.view is not None and self.app.view.mode == "replay":
            install(self, "replay")

    def on_resize(self, event) -> None:
        self.set_class(event.size.height < 30, "-short")  # 80×24: every line for incidents and tiles
        self.set_class(event.size.width < 100, "-narrow")
        self.set_class(event.size.height >= 60, "-tall")  # a wall terminal: roomier tiles

    def widgets_shown(self) -> list:
        return [self.query_one(HeaderBar), self.query_one(WallCounts), self.query_one(WallIncidents),
                self.query_one(WallTiles)]

    # in replay the wall covers the replay screen: its keys still move the timeline (the screen does the moving)
    def _replay(self, action: str, *args) -> None:
        target = getattr(self.app, "dashboard", None)
        method = getattr(target, f"action_{action}", None)
        if method is not None:
            method(*args)

    def action_toggle_play(self) -> None:
        self._replay("toggle_play")

    def action_step(self, seconds: float) -> None:
        self._replay("step", seconds)

    def action_jump(self, direction: int) -> None:
        self._replay("jump", direction)

    def action_speed(self, direction: int) -> None:
        self._replay("speed", direction)

    def action_goto(self) -> None:
        self._replay("goto")

    def action_edge(self, which: str) -> None:
        self._replay("edge", which)
