"""The wall's service tiles, in as many columns as the width holds."""

from __future__ import annotations

from textual.containers import Grid

from console.state import ConsoleState

from .wall_tile import ServiceTile

TILE_MIN_WIDTH = 15  # the narrowest tile that still holds "◑ INCIDENT" and a figure: five fit in 80 columns


class WallTiles(Grid):
    """The tiles in as many columns as the width holds (all in one row when they fit)."""

    DEFAULT_CSS = """
    WallTiles { height: auto; grid-gutter: 0 1; grid-rows: auto; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._tiles: dict[str, ServiceTile] = {}

    def on_resize(self) -> None:
        self._columns()

    def _columns(self) -> None:
        n = max(1, len(self._tiles))
        width = self.size.width or 80
        cols = max(1, min(n, (width + 1) // (TILE_MIN_WIDTH + 1)))
        if self.styles.grid_size_columns != cols:
            self.styles.grid_size_columns = cols

    def show(self, state: ConsoleState) -> None:
        added = False
        for name, svc in state.services.items():
            tile = self._tiles.get(name)
            if tile is None:
                tile = self._tiles[name] = ServiceTile(name)
                self.mount(tile)
                added = True
            tile.show(svc, state)
        if added:
            self._columns()
