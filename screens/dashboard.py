"""The dashboard: every panel at a glance; Tab/arrows move between panels, Enter opens a service's detail."""

from __future__ import annotations

import asyncio

from textual.screen import Screen
from textual.widgets import DataTable

from console.state import ConsoleState
from widgets.activity import Activity
from widgets.conversion_panel import ConversionPanel
from widgets.debt_gauge import DebtGauge
from widgets.header_bar import HeaderBar
from widgets.incident_table import IncidentTable
from widgets.keyed_table import KeyedTable
from widgets.kill_switches import KillSwitches
from widgets.pipeline_strip import PipelineStrip
from widgets.rollout_bar import RolloutBar
from widgets.source_bar import SourceBar

from widgets.bindings import HelpFirst, install
from widgets.figure import set_subtitle
from widgets.footer import KeysFooter
from widgets.paint_once import OnceContainer, OnceVertical, OnceVerticalScroll

from .dirty_only import DirtyOnly
from .visibility import ShowsState

# Focus targets in reading order (Tab, Shift+Tab): wide, the left column, then the right, then the strip across the
# bottom; narrow (one column, incidents first), top to bottom as stacked.
ORDER = ["conversion", "debt", "rollout", "activity-table", "incident-table", "switch-table", "strip"]
NARROW_ORDER = ["incident-table", "switch-table", "conversion", "debt", "rollout", "activity-table", "strip"]


class Dashboard(DirtyOnly, HelpFirst, ShowsState, Screen):
    SCOPES = ("dashboard", "incident_table", "panels", "rewind")  # whose commands the palette offers here

    def __init__(self, services_by_kind: dict[str, str], production: bool = False) -> None:
        super().__init__()
        self.by_kind = services_by_kind
        self.production = production
        self._rewinding = asyncio.Lock()
        self._resumed = False  # the first ScreenResume (the push) is told not to restyle every node again
        self._laid_out_at = None  # the terminal size of the last layout (see on_resize)

    def compose(self):
        # the keys before the footer exists: it reads them when it mounts
        install(self, "dashboard")
        if self.app.view.mode == "live":
            install(self, "rewind")  # a replay has its own timeline keys
        k = self.by_kind
        yield HeaderBar(production=self.production)
        with OnceContainer(id="body"):
            # incidents come first in the DOM so a narrow terminal shows them first; wide, #left docks left
            with OnceVertical(id="right"):
                yield IncidentTable()
                yield KillSwitches()
            with OnceVerticalScroll(id="left", can_focus=False):
                yield ConversionPanel(k.get("conversion"), f"Conversion health · {k.get('conversion', '—')}", id="conversion")
                yield DebtGauge(k.get("converge"), f"Verification debt · {k.get('converge', '—')}", id="debt")
                yield RolloutBar(k.get("path_tracker"), f"Rollout · {k.get('path_tracker', '—')}", id="rollout")
                yield Activity()
        yield PipelineStrip(k.get("data_pipeline"), f"Data pipeline · {k.get('data_pipeline', '—')}", id="strip")
        yield SourceBar()
        yield KeysFooter()

    def on_mount(self) -> None:
        self._fit(self.app.size.width)  # styled for the terminal's width before the first layout, not after it
        # incidents first, as k9s starts on its main list: Enter opens the selected one
        self.query_one("#incident-table").focus()

    def on_screen_resume(self, event) -> None:
        # runs before Screen's own handler (Textual dispatches down the MRO; ShowsState's runs as well). The first
        # resume follows the push at once: every widget was styled as it mounted and each change since (focus,
        # -narrow) restyled what it touched, so restyling all ~35 nodes again only delayed the first frame (~6 ms)
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False
        self._laid_out_at = self.app.size  # Screen's own handler lays the screen out at the terminal's size

    def on_resize(self, event) -> None:
        self._fit(event.size.width)
        if event.size == self._laid_out_at:
            # Textual's screen posts itself a Resize after its first layout, at the size it was just laid out at:
            # its handler laid everything out and painted the whole screen a second time (~25 ms and ~15 KB right
            # after the first frame). A terminal that really changed size differs from the size laid out at.
            event.prevent_default()
        self._laid_out_at = event.size

    def _fit(self, width: int) -> None:
        self.set_class(width < 110, "-narrow")
        self.query_one(KeysFooter).set_compact(width < 110)  # narrow: more keys fit before the edge

    def widgets_shown(self) -> list:
        return [self.query_one(HeaderBar), *self.query("#conversion, #debt, #rollout, #strip"),
                self.query_one(KillSwitches), self.query_one(Activity), self.query_one(IncidentTable),
                self.query_one(SourceBar)]

    def shown(self, state: ConsoleState) -> None:
        for table in self._tables():
            # an attached viewer that lost its collector: these rows are the last it sent (the service
            # panels say it through their endpoints)
            table.set_class(bool(state.link), "-lost")
            if state.link:
                set_subtitle(table, f"collector {state.link}")

    def _tables(self) -> list:
        return [w for w in self._widgets or [] if isinstance(w, (KillSwitches, Activity, IncidentTable))]

    # --- navigation ---------------------------------------------------------------------

    def _focused_id(self) -> str | None:
        w = self.focused
        while w is not None and w.id not in ORDER:
            w = w.parent
        return w.id if w is not None else None

    def reading_order(self) -> list[str]:
        return NARROW_ORDER if self.has_class("-narrow") else ORDER

    def _step(self, by: int) -> None:
        order = self.reading_order()
        cur = self._focused_id()
        n = order.index(cur) + by if cur in order else (0 if by > 0 else -1)
        self.query_one(f"#{order[n % len(order)]}").focus()  # focusing scrolls a stacked panel into view

    def focus_next(self, selector="*"):
        """Tab: the next panel in reading order (the DOM's order is not: incidents come first for narrow screens)."""
        self._step(1)
        return self.focused

    def focus_previous(self, selector="*"):
        self._step(-1)
        return self.focused

    def _below(self, cur: str, direction: str) -> str | None:
        """The panel right below (or above) the focused one, in the same column, as the eye goes."""
        here = self.query_one(f"#{cur}").region
        down = direction == "down"
        near = []
        for i in ORDER:
            r = self.query_one(f"#{i}").region
            overlaps = r.x < here.right and here.x < r.right
            if i != cur and overlaps and (r.y >= here.bottom if down else r.bottom <= here.y):
                near.append((abs(r.y - here.bottom) if down else abs(here.y - r.bottom), r.x, i))
        return min(near)[2] if near else None

    def action_move(self, direction: str) -> None:
        cur = self._focused_id() or "conversion"
        if direction in ("up", "down"):
            if self.has_class("-narrow"):  # one column: below is next in reading order
                self._step(1 if direction == "down" else -1)
                return
            target = self._below(cur, direction)
            if target is None:  # the bottom (or top) edge: round to the other end of the reading order
                order = self.reading_order()
                target = order[0] if direction == "down" else order[-1]
        else:
            # the panel across whose rows are nearest to the middle of the focused one, as the eye goes
            here = self.query_one(f"#{cur}").region
            mid = here.y + here.height // 2
            across = [i for i in ORDER if i != cur and (self.query_one(f"#{i}").region.x > here.x) == (direction == "right")]
            across = [i for i in across if self.query_one(f"#{i}").region.x != here.x] or ORDER
            target = min(across, key=lambda i: abs(self.query_one(f"#{i}").region.y
                                                   + self.query_one(f"#{i}").region.height // 2 - mid))
        self.query_one(f"#{target}").focus()

    def _service_of(self, widget_id: str | None) -> str | None:
        if widget_id == "switch-table":
            return self.query_one(KillSwitches).service
        if widget_id == "incident-table":
            return self.query_one(IncidentTable).service
        if widget_id == "activity-table":
            return self.query_one(Activity).service
        panel = self.query_one(f"#{widget_id}") if widget_id else None
        return getattr(panel, "service", None)

    def action_filter(self) -> None:
        """`/`: filter the focused table; the panel's subtitle says so while it is filtered."""
        table = self.focused
        if not isinstance(table, KeyedTable):
            self.notify("Focus a table first (incidents, kill switches, activity)", severity="warning", timeout=3)
            return
        from .filter import FilterScreen  # a dialog: loaded when first opened, not before the first frame

        what = {"incident-table": "incidents", "switch-table": "kill switches", "activity-table": "activity"}
        self.app.push_screen(FilterScreen(what.get(table.id, "rows"), table.filter),
                             lambda text: table.set_filter(text) if text is not None else None)

    def action_open_detail(self) -> None:
        svc = self._service_of(self._focused_id())
        if svc:
            self.app.open_detail(svc)
        else:
            self.notify("Nothing selected here", severity="warning", timeout=3)

    # --- rewind: the display over this session's recording (the façade does the moving) ----------

    def _rewind(self, cmd: dict) -> None:
        async def send() -> None:
            async with self._rewinding:  # in the order pressed: each step is from where the last one landed
                await self.app.command({"cmd": "rewind", **cmd})

        self.run_worker(send(), group="rewind")

    def action_rewind(self, seconds: float) -> None:
        self._rewind({"by": seconds})

    def action_rewind_jump(self, direction: int) -> None:
        self._rewind({"jump": direction})

    def action_rewind_live(self) -> None:
        if self._last is not None and self._last.rewind is not None:
            self._rewind({"live": True})

    def action_rewind_goto(self) -> None:
        from .replay_goto import GotoScreen  # a dialog: loaded when first opened, not before the first frame

        self.app.push_screen(GotoScreen("HH:MM[:SS] (UTC), -15m from now, or 2026-11-22T03:14:00Z"),
                             lambda text: self._rewind({"goto": text}) if text else None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_detail()
