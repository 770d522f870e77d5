"""The footer: Textual's, recomposed only when the keys it would show have changed."""

from __future__ import annotations

from textual.widgets import Footer


class KeysFooter(Footer):
    """Textual's Footer recomposes all its keys (~23 on the dashboard, ~13 ms) each time the screen announces
    changed bindings. At start the dashboard's push, its focus and its resume announce three changes within a few
    milliseconds, the last two with the same keys, and their recomposes ran around the first live figure. A
    recompose is skipped when the keys it would build are the ones on screen (bindings, enabled, tooltips, key
    labels, in order, and the palette key)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._bindings_known = False  # Footer composes no keys before the screen first announces its bindings
        self._composed = None  # what the last recompose built, as `_keys()` gives it

    def bindings_changed(self, screen) -> None:
        self._bindings_known = True
        super().bindings_changed(screen)

    def _keys(self) -> tuple:
        shown = tuple((binding, enabled, tooltip, self.app.get_key_display(binding))
                      for _node, binding, enabled, tooltip in self.screen.active_bindings.values() if binding.show)
        return shown, self.show_command_palette

    async def recompose(self) -> None:
        if not (self._bindings_known and self.is_attached):
            await super().recompose()  # builds nothing yet (or cannot): nothing to remember
            return
        keys = self._keys()
        if keys == self._composed:
            return  # these keys are on screen already
        self._composed = keys
        await super().recompose()
