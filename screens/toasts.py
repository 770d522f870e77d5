"""Where notifications show: on the status line above the footer, right-aligned, never over a panel's figures."""

from __future__ import annotations

# Textual's default toast is a 60×3+ box floating over the bottom-right panels (issue 16: "Recording to …" hid the
# kill switches and broke the path). As k9s and htop do, a message takes the status line instead: one line (a long
# one wraps once, upwards over the data-pipeline strip's bottom border, which holds no figure), and only the newest
# (an older one shows again if it outlives it).
CSS = """
ToastRack { margin-bottom: 1; max-height: 2; overflow-y: hidden; }
ToastHolder { display: none; }
ToastHolder:last-child { display: block; }
Toast { width: auto; max-width: 100%; height: auto; max-height: 2; margin-top: 0; padding: 0 1;
        text-overflow: ellipsis; }
"""

