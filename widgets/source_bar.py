"""The bottom line: each source's poll age and error state, one small figure per source."""

from __future__ import annotations

from console.safe_text import markup_escape as escape

from console.state import ConsoleState

from .fmt import age
from .lines import Cell, CellLines


class SourceBar(CellLines):
    """One widget drawing the line (widgets/lines.py): an age that changes repaints its own cells."""

    DEFAULT_CSS = """
    SourceBar { height: 1; background: $panel; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._figs: dict[str, Cell] = {}

    def show(self, state: ConsoleState) -> None:
        if any(name not in self._figs for name in state.services):
            for name in state.services:
                # sized for its usual text (`● name <10s`): an age ticking repaints the figure alone; a stale
                # source (`◐ name 1m20s`) widens it (and moves the ones after it)
                self._figs.setdefault(name, Cell(usual=len(f"● {name} <10s"), pad=(1, 1)))
            self.set_rows([list(self._figs.values())])
        for name, svc in state.services.items():
            fig = self._figs[name]
            a = svc.age(state.ts)
            # ages shown to the second only while young; coarser later so the line is not rewritten every tick
            shown = age(a) if a is None or a < 60 else age(a - a % 10)
            if svc.error:
                fig.set(f"[$error]✖ {name} {escape(svc.error[:40])} ({shown})[/]")
            elif a is None:
                fig.set(f"[dim]◌ {name}[/]")
            elif a > 30:
                fig.set(f"[$warning]◐ {name} {shown}[/]")
            else:
                fig.set(f"[$success]●[/] {name} {'<10s' if a < 10 else shown}")
