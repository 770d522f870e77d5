"""prometheus_client's text parser, loaded without the rest of its package (~10 ms and ~1.4 MiB of start-up).

`import prometheus_client.parser` first runs the package's `__init__`, which loads its exposition servers
(http.server, wsgiref, email, urllib.request), its registry and its process and platform collectors: 33 modules
the console never uses to read a scrape. The parser needs only three siblings (metrics_core, samples,
validation), so its file and theirs are loaded as the same code under a package of ours whose path is
prometheus_client's own directory; a process that imports the real package as well (the in-process simulator,
the tests) gets its own copies, and the two never meet (the console reads the families' fields, never their types).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType

_PACKAGE = "console.sources.prometheus_files"  # the parser and its three siblings, as files of prometheus_client
_lock = threading.Lock()


def parser() -> ModuleType:
    """prometheus_client's `parser` module (loaded on the first call)."""
    module = sys.modules.get(f"{_PACKAGE}.parser")
    if module is not None:
        return module
    with _lock:
        if _PACKAGE not in sys.modules:
            spec = importlib.util.find_spec("prometheus_client")  # a top-level name: found, not imported
            if spec is None or not spec.submodule_search_locations:
                raise ImportError("prometheus_client is not installed")
            package = ModuleType(_PACKAGE, "prometheus_client's files, without its __init__")
            package.__path__ = list(spec.submodule_search_locations)
            package.__package__ = _PACKAGE
            sys.modules[_PACKAGE] = package
        return importlib.import_module(f"{_PACKAGE}.parser")
