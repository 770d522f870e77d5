"""The bottom line: each source's poll age and error state, one small figure per source."""

from __future__ import annotations

from textual.containers import Horizontal
from console.safe_text import markup_escape as escape

from console.state import ConsoleState

from .figure import Figure
from .fmt import age


class SourceBar(Horizontal):
    DEFAULT_CSS = """
    SourceBar { height: 1; background: $panel; }
    SourceBar Figure { width: auto; padding: 0 1; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._figs: dict[str, Figure] = {}

    def show(self, state: ConsoleState) -> None:
        for name, svc in state.services.items():
            fig = self._figs.get(name)
            if fig is None:
                # sized for its usual text (`● name <10s`): an age ticking repaints the figure alone; a stale
                # source (`◐ name 1m20s`) widens it once
                fig = self._figs[name] = Figure(cells=len(f"● {name} <10s"))
                self.mount(fig)
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
