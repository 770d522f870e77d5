"""aiohttp, imported without the two TLS contexts it builds at import time (~0.1 s of start-up and ~3 MiB).

aiohttp 3.x makes a verifying and a non-verifying `SSLContext` when its connector module is imported: both load
the system CA store, which costs about 0.1 s on the first poll and 3 MiB for as long as the console runs, for
contexts the console never uses: every https service (or proxy) is given the console's own context
(`client.default_tls`) and plain-HTTP polls use none. During that one import the two stdlib calls that load the
store are replaced: aiohttp's defaults then trust no CA at all, so anything that ever fell back on them would
fail verification (fail closed), never trust more.
"""

from __future__ import annotations

import ssl
import sys
import threading
from types import ModuleType

_lock = threading.Lock()


def _bare_client_context(*_args, **_kwargs) -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names, against no CA


def aiohttp() -> ModuleType:
    """The aiohttp module (imported on the first call)."""
    module = sys.modules.get("aiohttp")
    if module is not None:
        return module
    with _lock:
        if "aiohttp" in sys.modules:
            return sys.modules["aiohttp"]
        create, default_paths = ssl.create_default_context, ssl.SSLContext.set_default_verify_paths
        ssl.create_default_context = _bare_client_context
        ssl.SSLContext.set_default_verify_paths = lambda self: None
        try:
            import aiohttp as module
        finally:
            ssl.create_default_context, ssl.SSLContext.set_default_verify_paths = create, default_paths
    return module
