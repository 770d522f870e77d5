"""A screen whose partial repaint renders only the widgets under a changed region, not every widget in the box
around all of them."""

from __future__ import annotations

from textual._compositor import Compositor
from textual.geometry import Region


class _DirtyOnlyCompositor(Compositor):
    """Textual's compositor, but a partial update asks only the widgets that overlap a changed region for lines.

    Textual renders every widget inside the rectangle that bounds all changed regions; a tick changes the clock in
    the header and a few figures down the panels, so that rectangle is the whole screen and each of the ~30
    widgets was asked for its lines every second (measured on the demo: ~31 asked a paint, ~9 with a line to
    redraw). A
    partial update writes only the changed regions' spans, so lines from a widget that overlaps none of them
    were thrown away: the frame is byte for byte the same (tests/test_dirty_only.py).
    """

    _repainting: list[Region] | None = None  # the changed regions, while a partial update renders

    def render_partial_update(self):
        self._repainting = list(self._dirty_regions)  # the parent clears them before it renders
        try:
            return super().render_partial_update()
        finally:
            self._repainting = None

    def _get_renders(self, crop: Region | None = None):
        regions = self._repainting
        if not regions:
            return super()._get_renders(crop)
        # Only the renders see the narrower map, and only while they run (eagerly, here): the cuts and the mouse's
        # layers are kept from the whole map, and are computed from it before this (the cuts first of all).
        everything = self.visible_widgets
        self._visible_widgets = {widget: (region, clip) for widget, (region, clip) in everything.items()
                                 if any(region.intersection(clip).overlaps(r) for r in regions)}
        try:
            return list(super()._get_renders(crop))
        finally:
            self._visible_widgets = everything


class DirtyOnly:
    """Mixed into a full screen (before Screen): its compositor is _DirtyOnlyCompositor."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compositor = _DirtyOnlyCompositor()
