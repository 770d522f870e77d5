"""opsconsole engine: everything that is not UI (no textual imports here)."""

__version__ = "0.1.0"
