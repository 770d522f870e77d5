"""Which screens a state update must repaint: the top one, and whatever only dialogs cover."""

from __future__ import annotations

from textual.screen import ModalScreen, Screen

from console.state import ConsoleState


def showing(screen: Screen) -> bool:
    """On top, or covered only by modal dialogs (it shows around them, as k9s and htop keep updating)."""
    stack = screen.app.screen_stack
    if screen not in stack:
        return False
    return all(isinstance(s, ModalScreen) for s in stack[stack.index(screen) + 1:])


def painted(stack: list[Screen]) -> list[Screen]:
    """The screens to hand a new state to, top first: the top screen and those beneath it up to the first
    full screen (what is hidden keeps its last state and is redrawn when shown again)."""
    out = []
    for screen in reversed(stack):
        out.append(screen)
        if not isinstance(screen, ModalScreen):
            break
    return out


class ShowsState:
    """A full screen drawn from the newest state: painted while it shows (under dialogs too), otherwise only
    remembered and drawn when it shows again. Its widgets are looked up once (a DOM query per tick was a
    third of the UI's CPU)."""

    _last: ConsoleState | None = None
    _widgets: list | None = None

    def widgets_shown(self) -> list:
        """The widgets a state is handed to (each has `show(state)`)."""
        raise NotImplementedError

    def remember(self, state: ConsoleState) -> None:
        """The newest state while another screen covers this one: drawn when it is shown again."""
        self._last = state

    def on_screen_resume(self) -> None:
        if self._last is not None:
            self.show(self._last)

    def show(self, state: ConsoleState) -> None:
        self._last = state
        if not self.is_mounted or not showing(self):  # pushed but not composed yet: drawn on its ScreenResume
            return
        if self._widgets is None:
            self._widgets = self.widgets_shown()
        with self.app.batch_update():
            for widget in self._widgets:
                widget.show(state)
            self.shown(state)

    def shown(self, state: ConsoleState) -> None:
        """After every widget has the state: what the screen itself marks (nothing by default)."""
