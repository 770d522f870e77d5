"""ConsoleState ↔ plain JSON documents, and the diff between two documents that a viewer applies to stay current.

The codec itself is console/state_doc.py (a recording keeps the same documents, and console/recording must not
depend on the war room's package); this module is the war room's name for it, with its protocol version.
"""

from __future__ import annotations

from console.state_doc import Differ, apply, diff, dumps, dumps_parts, from_doc, loads, normalized, same, to_doc

__all__ = ["PROTOCOL", "Differ", "apply", "diff", "dumps", "dumps_parts", "from_doc", "loads", "normalized", "same",
           "to_doc"]

PROTOCOL = 1  # bumped when a document or a patch changes shape: a viewer of another version refuses to attach
