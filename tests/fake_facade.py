"""A façade with no engine behind it: screens and widgets tested on a ConsoleState, in milliseconds.

It answers the façade's read commands with what the test gives it and records every command, so a test
asserts on what the screen asked the console to do — as a remote collector would receive it.
"""

from __future__ import annotations

from typing import Any, Callable

from console.facade import View, failed, ok
from console.metrics.panels import PLOTS
from console.mitigations.catalog import action_rows, builtin_actions
from console.state import ConsoleState, ServiceState

START = 1_795_000_000.0
SERVICES = {"conversion": "pulse", "pipelines": "storytailor", "converge": "converge",
            "path_tracker": "path-tracker", "data_pipeline": "datapipe"}


def state(**figures: dict[str, Any]) -> ConsoleState:
    """A state with the five demo services; `figures[name]` fills one service's figures."""
    st = ConsoleState(ts=START, environment="test", read_only=False, mode="live")
    for kind, name in SERVICES.items():
        st.services[name] = ServiceState(name, kind, f"{kind} ({name})", figures=dict(figures.get(name, {})))
    return st


class FakeFacade:
    def __init__(self, st: ConsoleState | None = None, *, mode: str = "live", read_only: bool = False,
                 answers: dict[str, dict] | None = None) -> None:
        self.state = st or state()
        self.mode, self.read_only = mode, read_only
        self.answers = answers or {}  # cmd → the result to give
        self.sent: list[dict] = []
        self.points: list[tuple[float, float]] = []  # what every `range` answers
        self._subs: list[Callable[[ConsoleState], None]] = []

    async def start(self) -> None:
        return None

    async def start_mitigations(self) -> None:
        return None

    async def run(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def view(self) -> View:
        actions = action_rows({a.id: a for a in builtin_actions()})
        plots = {name: [[t, e] for t, e in PLOTS.get(kind, [])] for kind, name in SERVICES.items()}
        return View(mode=self.mode, environment=self.state.environment, production=False,
                    read_only=self.read_only, services_by_kind=dict(SERVICES), actions=actions, plots=plots)

    def notices(self) -> list[tuple[str, str]]:
        return []

    def scrubber(self):
        from console.safe_text import NO_SECRETS

        return NO_SECRETS

    def subscribe(self, fn):
        self._subs.append(fn)
        return lambda: self._subs.remove(fn)

    def publish(self, st: ConsoleState | None = None) -> None:
        self.state = st or self.state
        for fn in list(self._subs):
            fn(self.state)

    async def request(self, cmd: dict) -> dict:
        self.sent.append(cmd)
        if cmd["cmd"] in self.answers:
            return self.answers[cmd["cmd"]]
        if cmd["cmd"] == "range":
            return ok(now=self.state.ts, series=[list(self.points) for _ in cmd["exprs"]])
        if cmd["cmd"] == "incident.view":
            return ok(mitigations=[], live=[])
        return failed("not in this test")
