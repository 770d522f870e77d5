"""Counters that reset on most scrapes: a broken exporter, whose rates would be wildly high, named for the panel."""

from __future__ import annotations

WINDOW = 10  # scrapes looked at per series
MIN_SCRAPES = 6  # before judging
BROKEN_SHARE = 0.5  # resets in at least half of them


def is_counter(name: str) -> bool:
    return name.endswith(("_total", "_count", "_sum", "_bucket"))


class ResetWatch:
    """Per counter series: its last value and, as bits, which of its last scrapes went backwards."""

    def __init__(self) -> None:
        self._series: dict[tuple, list] = {}  # key → [last value, reset bits, scrapes seen, name]
        self._broken: dict[tuple, str] = {}  # kept as scrapes come, so a warning costs nothing per scrape

    def add(self, key: tuple, name: str, value: float) -> None:
        entry = self._series.get(key)
        if entry is None:
            self._series[key] = [value, 0, 0, name]
            return
        went_back = value < entry[0]  # as Prometheus counts a reset
        entry[1] = ((entry[1] << 1) | went_back) & ((1 << WINDOW) - 1)
        entry[2] = min(entry[2] + 1, WINDOW)
        entry[0] = value
        if entry[2] >= MIN_SCRAPES and bin(entry[1]).count("1") >= BROKEN_SHARE * entry[2]:
            self._broken[key] = name
        else:
            self._broken.pop(key, None)

    def forget(self, keys) -> None:
        for key in keys:
            self._series.pop(key, None)
            self._broken.pop(key, None)

    def broken(self) -> list[str]:
        """Metric names with a series that reset in at least half of its recent scrapes."""
        return sorted(set(self._broken.values()))

    def warning(self) -> str | None:
        if not self._broken:
            return None
        names = self.broken()
        if not names:
            return None
        more = f" (+{len(names) - 1} more)" if len(names) > 1 else ""
        return f"counter resets every scrape: {names[0]}{more} — its rates are not usable"
