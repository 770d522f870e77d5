"""Every kill switch across services in one table: Pulse collection, Storytailor pipelines, Converge flags."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical

from console.clock import parse_iso
from console.state import ConsoleState

from .bindings import install
from .figure import set_subtitle
from .fmt import coarse_age
from .keyed_table import KeyedTable
from .paint_once import PaintOnce

ON = Text("● ON", style="green")
OFF = Text("○ OFF", style="bold reverse red")  # reverse: still stands out with NO_COLOR (not colour alone)
UNK = Text("?", style="dim")


def _state(v) -> Text:
    return UNK if v is None else (ON if v else OFF)


def switch_rows(state: ConsoleState) -> list[tuple[str, tuple]]:
    rows: list[tuple[str, tuple]] = []
    for svc in state.services.values():
        f = svc.figures or {}
        if svc.kind == "conversion" and f:
            off = f.get("disabled_surfaces")
            rows.append((f"{svc.name}/collection", (svc.name, "collection", _state(f.get("enabled")),
                                                   ("off: " + ", ".join(off) if off else "all surfaces") if off is not None else "?", "")))
        elif svc.kind == "pipelines":
            for sw in f.get("switches") or []:
                updated = sw.get("updated_at")
                try:
                    upd = coarse_age(state.ts - parse_iso(updated)) if updated else ""
                except ValueError:
                    upd = "?"
                rows.append((f"{svc.name}/{sw.get('pipeline')}", (svc.name, sw.get("pipeline") or "?",
                                                               _state(sw.get("enabled")), "", upd)))
        elif svc.kind == "converge":
            for fl in f.get("flags") or []:
                detail = " ".join(x for x in (fl.get("mode") or "", fl.get("source") or "?") if x)
                rows.append((f"{svc.name}/{fl.get('name')}", (svc.name, fl.get("name") or "?",
                                                          _state(fl.get("enabled")), detail, "")))
    # what is off first: the reason anyone looks at this table (28 rows do not fit; the off ones must)
    rows.sort(key=lambda row: row[1][2] is not OFF)
    return rows


COLUMNS = ["service", "switch", "state", "detail", "changed"]
STATE_W, CHANGED_W = 5, 7  # `○ OFF`, the header `changed` (its values: 12d, 3h05m)
CHROME = 2 + 2 * len(COLUMNS)  # the scrollbar, each column's padding (the size is inside the border)


def column_widths(rows: list[tuple[str, tuple]], width: int) -> list[int]:
    """Widths that fit the panel: nothing scrolls sideways and every header is whole. Short of room, the detail
    gives first (down to 8), then the switch name (to 16), the detail again (to its header), the switch (to 12),
    the service (to 8); a cut cell ends in `…` (the full text is in the service's detail screen and matches `/`)."""
    def need(i: int, header: str) -> int:
        return max([len(header)] + [len(str(cells[i])) for _, cells in rows])

    room = max(0, width - CHROME - STATE_W - CHANGED_W)
    w = {"service": min(12, need(0, "service")), "switch": need(1, "switch"), "detail": need(3, "detail")}
    over = w["service"] + w["switch"] + w["detail"] - room
    for col, floor in (("detail", 8), ("switch", 16), ("detail", 6), ("switch", 12), ("service", 8), ("switch", 6)):
        if over <= 0:
            break
        cut = min(over, max(0, w[col] - floor))
        w[col] -= cut
        over -= cut
    if over < 0:
        w["detail"] -= over  # room to spare: the detail takes it
    return [w["service"], w["switch"], STATE_W, w["detail"], CHANGED_W]


def _cut(text: str) -> Text:
    """A cell that ends in … when its column is narrower (never wraps to a second line)."""
    return Text(text, no_wrap=True, overflow="ellipsis")


class KillSwitches(PaintOnce, Vertical, can_focus=False):
    DEFAULT_CSS = """
    KillSwitches { border: round $panel-lighten-2; height: 1fr; }
    KillSwitches:focus-within { border: round $accent; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "Kill switches"
        self.table = KeyedTable(COLUMNS, id="switch-table")
        self._seen: tuple | None = None  # what the table and subtitle were last drawn from

    def compose(self):
        yield self.table

    def on_mount(self) -> None:
        install(self, "panel:pipelines")  # `x` and the pipelines' mitigation keys, while the table has the focus

    def show(self, state: ConsoleState) -> None:
        rows = switch_rows(state)
        seen = (rows, self.size.width, self.table.filter, state.link)  # the subtitle says the filter and the link
        if seen == self._seen:  # a steady table: building 140 cells to find nothing changed was most of this
            return
        self._seen = seen
        if self.size.width:
            self.table.set_columns(COLUMNS, column_widths(rows, self.size.width))
        self.table.sync([(key, tuple(_cut(c) if isinstance(c, str) else c for c in cells)) for key, cells in rows])
        off = sum(1 for _, cells in rows if cells[2] is OFF)
        set_subtitle(self, f"{len(rows)} switches, {off} off" if rows else "waiting…")

    @property
    def service(self) -> str | None:
        key = self.table.selected_key
        return key.split("/", 1)[0] if key else None
