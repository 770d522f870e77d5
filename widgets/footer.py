"""The footer: the focused widget's keys and the screen's on one line, the palette key at the right edge."""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widget import Widget

from .paint_once import PaintOnce


class KeysFooter(PaintOnce, Widget, can_focus=False):
    """What Textual's Footer shows (the screen's active bindings, in its order), drawn as one line of text.

    Textual's Footer is a container of one widget per key (~23 on the dashboard): each change of focus recomposed
    all of them (13-28 ms), and at start its keys came after the first frame, so the dashboard was laid out and
    painted twice (~50 ms before the first figures were all on the terminal). Here a change of keys is a new line
    of text in a widget whose size never changes. Keys that do not fit are left out whole, never cut."""

    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeysFooter > .keys-footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeysFooter > .keys-footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeysFooter > .keys-footer--edge {
        color: $foreground 20%;
    }
    """
    COMPONENT_CLASSES = {"keys-footer--key", "keys-footer--description", "keys-footer--edge"}

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.compact = False  # narrow screens: one space less around each key, so more of them fit
        self._keys: list[tuple[str, str, str, bool]] = []  # (key, shown as, description, enabled)
        self._palette: tuple[str, str, str, bool] | None = None
        self._spans: list[tuple[int, int, str, bool]] = []  # (x0, x1, key, enabled) as last drawn: for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.refresh()

    def _bindings_changed(self, screen) -> None:
        if screen is not self.screen:
            return
        active = screen.active_bindings
        keys, seen = [], set()
        for _node, binding, enabled, _tooltip in active.values():
            if binding.show and binding.action not in seen:  # Textual shows an action bound to two keys once
                seen.add(binding.action)
                keys.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        palette = None
        if self.app.ENABLE_COMMAND_PALETTE and self.app.COMMAND_PALETTE_BINDING in active:
            _node, binding, enabled, _tooltip = active[self.app.COMMAND_PALETTE_BINDING]
            palette = (binding.key, self.app.get_key_display(binding), binding.description, enabled)
            keys = [k for k in keys if k[0] != binding.key]
        if keys != self._keys or palette != self._palette:
            self._keys, self._palette = keys, palette
            self.refresh()

    def _label(self, key_shown: str, description: str, enabled: bool) -> list[tuple[str, Style]]:
        key_style = self.get_component_rich_style("keys-footer--key")
        text_style = self.get_component_rich_style("keys-footer--description")
        if not enabled:
            key_style, text_style = key_style + Style(dim=True), text_style + Style(dim=True)
        if self.compact:
            return [(key_shown, key_style), (f" {description}" if description else "", text_style)]
        return [(f" {key_shown} ", key_style), (f"{description} " if description else "", text_style)]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        gap = 1 if self.compact else 0
        right: list[tuple[str, Style]] = []
        if self._palette is not None:
            key, shown, description, enabled = self._palette
            right = [("▏", self.get_component_rich_style("keys-footer--edge")), *self._label(shown, description, enabled)]
            if not self.compact:
                right.append((" ", base))
        room = width - sum(cell_len(t) for t, _ in right)
        if room < 0:  # not even the palette's key fits
            right, room = [], width
        segments: list[Segment] = []
        spans: list[tuple[int, int, str, bool]] = []
        x = 0
        for key, shown, description, enabled in self._keys:
            parts = self._label(shown, description, enabled)
            size = sum(cell_len(t) for t, _ in parts)
            if x + size > room:
                break  # a key that does not fit is left out whole, and the ones after it too (order is meaning)
            segments += [Segment(t, base + s) for t, s in parts if t]
            spans.append((x, x + size, key, enabled))
            x += size
            if gap and x + gap <= room:
                segments.append(Segment(" " * gap, base))
                x += gap
        if x < room:
            segments.append(Segment(" " * (room - x), base))
        if right and room >= 0:
            key, _shown, _description, enabled = self._palette
            spans.append((room + 1, width, key, enabled))
            segments += [Segment(t, base + s) for t, s in right if t]
        self._spans = spans
        return Strip(segments, width).crop(0, width)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """A click on a key presses it, as on Textual's footer."""
        for x0, x1, key, enabled in self._spans:
            if x0 <= event.x < x1:
                if enabled:
                    self.app.simulate_key(key)
                else:
                    self.app.bell()
                return
