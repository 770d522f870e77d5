"""Which screens a state update must repaint: the top one, and whatever only dialogs cover."""

from __future__ import annotations

from textual.screen import ModalScreen, Screen


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
