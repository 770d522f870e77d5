"""A widget that hands the compositor its last lines again while nothing has asked it to repaint."""

from __future__ import annotations

from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import Static


class PaintOnce:
    """Mixin for a Widget (before it in the bases).

    Each paint, Textual's compositor asks every widget inside the rectangle bounding the paint's changes for all
    its lines — the clock at the top and a strip figure at the bottom put every widget of the dashboard in it, every
    second. An unchanged widget then goes through its styles, borders and line filters again to give the same lines
    (~50 µs a widget, measured). This one gives its last answer while the same region is asked for and nothing
    repainted it: every repaint of a widget goes through `refresh` (a new text, a class, a style, a border title), a
    CSS or theme reload through `notify_style_update`, and a resize changes the region.
    """

    _painted: tuple | None = None

    def refresh(self, *regions, **kw):
        self._painted = None
        return super().refresh(*regions, **kw)

    def notify_style_update(self) -> None:
        self._painted = None
        super().notify_style_update()

    def render_lines(self, crop: Region) -> list[Strip]:
        key = (crop, self.region, self.visual_style, self.app.theme)
        if self._painted is not None and self._painted[0] == key:
            return list(self._painted[1])
        lines = super().render_lines(crop)
        self._painted = (key, lines)
        return list(lines)


# Textual's own containers and text, painted once: the dashboard's body, columns and rows, and the activity's detail
# lines, each asked for all its lines on every paint (the paint's rectangle spans the screen) and giving the same
# ones again (~60 µs each, measured). CSS written for the base class applies to these as well.
class OnceContainer(PaintOnce, Container):
    pass


class OnceVertical(PaintOnce, Vertical):
    pass


class OnceVerticalScroll(PaintOnce, VerticalScroll):
    pass


class OnceHorizontal(PaintOnce, Horizontal):
    pass


class OnceStatic(PaintOnce, Static):
    pass
