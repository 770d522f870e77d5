"""The simulated services' listening sockets: bound before their servers start, so their URLs are known at once."""

from __future__ import annotations

import socket


def listening_socket(host: str) -> socket.socket:
    """A TCP socket bound to an ephemeral port of `host`, listening. OSError for a bad host."""
    # Binding here turns a bad host into an OSError; uvicorn would sys.exit() from inside its task.
    # An explicit IPPROTO_TCP lets asyncio set TCP_NODELAY (else Nagle adds ~40 ms per request).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind((host, 0))
        sock.listen(128)  # a client's connection waits in the backlog until the server is up to accept it
    except OSError:
        sock.close()
        raise
    return sock
