"""The TOML files shipped in the package (rules, mitigations, playbooks): parsed once per install, not at every start.

tomllib is pure Python: parsing the three shipped files (~60 KB) cost ~7 ms of every start-up, before the first live
figure. Their tables are kept beside the package's bytecode (`__pycache__/NAME.<cache tag>.marshal`) together with
the text they were parsed from. A start whose file reads the same text loads the tables (~0.2 ms); any other text
is parsed again and the cache rewritten. Where `__pycache__` cannot be written (a read-only install) every start
parses, as before; a cache that cannot be read is ignored. Only the shipped files come through here: a user's config
is always parsed, so its errors are reported where they are.
"""

from __future__ import annotations

import marshal
import os
import sys
import tomllib
from pathlib import Path


def _cache_path(path: Path) -> Path:
    return path.parent / "__pycache__" / f"{path.name}.{sys.implementation.cache_tag}.marshal"


def load(path: Path) -> dict:
    """The parsed TOML of a shipped file (the same tables tomllib.loads gives for its current text)."""
    text = path.read_text("utf-8")
    cache = _cache_path(path)
    try:
        kept_text, tables = marshal.loads(cache.read_bytes())
        if kept_text == text:  # the very text that was parsed: never a stale table
            return tables
    except (OSError, ValueError, EOFError, TypeError):  # no cache yet, or one from something else: parse
        pass
    tables = tomllib.loads(text)
    _keep(cache, text, tables)
    return tables


def _keep(cache: Path, text: str, tables: dict) -> None:
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        data = marshal.dumps((text, tables))  # ValueError for a TOML date or time: such a file is just parsed
        cache.parent.mkdir(exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, cache)  # whole or not at all, even with two consoles starting at once
    except (OSError, ValueError):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
