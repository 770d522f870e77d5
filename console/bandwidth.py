"""Low-bandwidth mode: over SSH, or when asked, the screen changes less often (fewer bytes a second)."""

from __future__ import annotations

import os
from collections.abc import Mapping


def low_bandwidth(flag: bool | None, environ: Mapping[str, str] | None = None) -> bool:
    """`--low-bandwidth` / `--no-low-bandwidth` win; otherwise on when the terminal is an SSH session."""
    if flag is not None:
        return flag
    env = os.environ if environ is None else environ
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))
