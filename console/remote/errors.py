"""What attaching to a collector raises, apart from the client: the TUI catches it without importing httpx."""

from __future__ import annotations


class RemoteError(Exception):
    """The collector cannot be attached to: one line for the user."""
