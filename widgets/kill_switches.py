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


class KillSwitches(Vertical, can_focus=False):
    DEFAULT_CSS = """
    KillSwitches { border: round $panel-lighten-2; height: 1fr; }
    KillSwitches:focus-within { border: round $accent; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "Kill switches"
        self.table = KeyedTable(["service", "switch", "state", "detail", "changed"], id="switch-table")

    def compose(self):
        yield self.table

    def on_mount(self) -> None:
        install(self, "panel:pipelines")  # `x` and the pipelines' mitigation keys, while the table has the focus

    def show(self, state: ConsoleState) -> None:
        rows = switch_rows(state)
        self.table.sync(rows)
        off = sum(1 for _, cells in rows if cells[2] is OFF)
        set_subtitle(self, f"{len(rows)} switches, {off} off" if rows else "waiting…")

    @property
    def service(self) -> str | None:
        key = self.table.selected_key
        return key.split("/", 1)[0] if key else None
