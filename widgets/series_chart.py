"""A plotext line chart of one series over a time range, redrawn only when its points change."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from console.clock import hms


def hm(ts: float) -> str:
    return hms(ts)[:5]


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
            ys = [v for _, v in points]
            plt.plot(xs, ys, marker="braille")
            if threshold is not None:
                plt.horizontal_line(threshold, color="red")
            # the axis in UTC clock time, as the header shows it (not negative decimal minutes)
            lo, hi = min(xs), max(xs)
            ticks = [lo + (hi - lo) * i / 4 for i in range(5)] if hi > lo else [lo]
            plt.xticks(ticks, [hm(now + x * 60) for x in ticks])
            low, high = min(ys + ([threshold] if threshold is not None else [])), max(
                ys + ([threshold] if threshold is not None else []))
            if high == low:  # one value (or a flat line): a range around it, not plotext's −1…1
                pad = abs(high) * 0.1 or 1.0
                plt.ylim(low - pad, high + pad)
            plt.xlabel("UTC")
        self.refresh()
