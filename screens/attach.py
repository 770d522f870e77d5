"""`opsconsole attach URL`: the same TUI as a viewer of a collector (console/remote/client.py's RemoteSession)."""

from __future__ import annotations

import asyncio
import os
import sys

from console.remote.client import RemoteError, RemoteSession


def _session(args) -> RemoteSession:
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            raise RemoteError(f"--token-env {args.token_env}: ${args.token_env} is not set (or empty)")
    return RemoteSession(args.url, token=token, read_only=args.read_only)


async def _probe(args) -> None:
    """Attach once before the screen opens: a wrong URL, token or version is one line, not a broken screen."""
    session = _session(args)
    try:
        await session.start()
    finally:
        await session.stop()


def run_attach(args) -> int:
    from .app import OpsApp

    try:
        asyncio.run(_probe(args))
        session = _session(args)
    except RemoteError as e:
        print(f"opsconsole: {e}", file=sys.stderr)
        return 2
    from console.bandwidth import low_bandwidth

    app = OpsApp(session, layout=args.layout, low_bandwidth=low_bandwidth(getattr(args, "low_bandwidth", None)))
    app.run()
    if app.start_error:
        print(f"opsconsole: {app.start_error}", file=sys.stderr)
    return app.return_code or 0
