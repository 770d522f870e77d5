"""`opsconsole serve`: check the config, the listen address and the tokens (exit 2 with one line), then collect."""

from __future__ import annotations

import asyncio
import sys

from console.config.schema import ConfigError

from .auth import DEFAULT_LISTEN, Tokens, is_loopback, parse_listen


def serve_cmd(args) -> int:
    from console.session import Session

    catalog = None
    if args.config:
        from console.catalog import load_catalog

        catalog = load_catalog(args.config, args.env, args.read_only)  # ConfigError: exit 2 naming file and key
    cfg = catalog.cfg if catalog is not None else None
    listen = args.listen or (cfg.serve.listen if cfg is not None and cfg.serve and cfg.serve.listen else None)
    try:
        host, port = parse_listen(listen or DEFAULT_LISTEN)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    tokens = Tokens(cfg)
    if not is_loopback(host) and not tokens.required:
        raise ConfigError(f"--listen {host}:{port} is not loopback: viewers there need tokens "
                          "([serve] tokens = [{env = \"VAR\", role = \"read\"}] in the config)")
    session = Session(config_path=args.config, env=args.env, scenario=args.scenario, seed=args.seed,
                      read_only=args.read_only, catalog=catalog, record=args.record or "auto")
    from .server import serve

    try:
        asyncio.run(serve(session, tokens, host, port))
    except OSError as e:
        print(f"opsconsole: {e}", file=sys.stderr)
        return 2
    return 0
