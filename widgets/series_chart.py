"""A plotext line chart of one series over a time range, redrawn only when its points change."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class SeriesChart(PlotextPlot):
    DEFAULT_CSS = "SeriesChart { height: 1fr; min-height: 8; border: round $panel-lighten-2; }"

    def __init__(self, title: str, **kw) -> None:
        super().__init__(**kw)
        self.border_title = title
        self._points: list[tuple[float, float]] | None = None
        self._threshold: float | None = None

    def set_series(self, points: list[tuple[float, float]], now: float, threshold: float | None = None) -> None:
        if points == self._points and threshold == self._threshold:
            return
        self._points, self._threshold = points, threshold
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if not points:
            plt.title("no data yet")
        else:
            xs = [(t - now) / 60 for t, _ in points]  # minutes before now
            plt.plot(xs, [v for _, v in points], marker="braille")
            if threshold is not None:
                plt.horizontal_line(threshold, color="red")
            plt.xlabel("minutes ago")
        self.refresh()
