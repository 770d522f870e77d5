"""The memento seam: what a stateful part remembers beyond the windows, as versioned plain data."""

from __future__ import annotations

from typing import Any, Protocol

SNAPSHOT_VERSION = 1


class Memento(Protocol):
    """A part whose memory is saved as plain data (JSON) and put back: snapshot → restore → snapshot is equal."""

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, data: dict[str, Any]) -> None: ...


def check_version(data: Any, what: str) -> None:
    """A snapshot this console cannot read is an error, never a silently empty memory."""
    v = data.get("v") if isinstance(data, dict) else None
    if v != SNAPSHOT_VERSION:
        raise ValueError(f"{what}: snapshot version {v!r}, this console reads version {SNAPSHOT_VERSION}")
