"""Where the console keeps its files: the user data dir from platformdirs, or the config's data_dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir(configured: str | None = None) -> Path:
    """The directory for the audit log, incidents and recordings (env OPSCONSOLE_DATA_DIR wins, for tests)."""
    chosen = os.environ.get("OPSCONSOLE_DATA_DIR") or configured or platformdirs.user_data_dir("opsconsole")
    p = Path(chosen).expanduser()
    p.mkdir(parents=True, exist_ok=True)
    return p
