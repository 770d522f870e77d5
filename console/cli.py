"""The `opsconsole` command: demo, run, sim, snapshot (exit 0 all clear, 1 firing, 2 bad usage or config)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from console.config.errors import ConfigError
from .durations import parse_duration

# Kept light on purpose: `opsconsole demo` forks its simulator (console/sim_process.py) as soon as its arguments
# are parsed, so the parser and this module import neither asyncio, pydantic nor the simulator's servers.


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _scenario(name: str) -> str:
    from .sim.scenarios import SCENARIOS

    if name not in SCENARIOS:
        raise argparse.ArgumentTypeError(f"unknown scenario {name!r} (one of {', '.join(SCENARIOS)})")
    return name


def layout_option(sp) -> None:
    """`--layout wall`: the war-room screen first (default: the config's `[layout] default`, else the dashboard)."""
    from console.config.layouts import LAYOUTS

    sp.add_argument("--layout", choices=LAYOUTS, help="the first screen: dashboard, or wall (the war-room screen)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opsconsole", description="Keyboard-driven console for live operations.")
    sub = p.add_subparsers(dest="cmd", required=True)

    def common_ui(sp):
        sp.add_argument("--read-only", action="store_true", help="never send a mutating request")
        sp.add_argument("--env", help="environment profile from the config's [environments.NAME]")
        sp.add_argument("--record", metavar="PATH", help="record into this file (default: the config's `record`)")
        layout_option(sp)
        low_bandwidth_flag(sp)

    def low_bandwidth_flag(sp):
        sp.add_argument("--low-bandwidth", action=argparse.BooleanOptionalAction, default=None,
                        help="animations off, the clock to the minute, plots once a minute "
                             "(default: on over SSH, i.e. when SSH_CONNECTION or SSH_TTY is set)")

    from console.sim.scenarios import describe

    scenarios = "scenarios (--scenario NAME):\n" + "\n".join(f"  {n:21} {what}" for n, what in describe())
    d = sub.add_parser("demo", help="the console on the embedded simulated fleet", epilog=scenarios,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--scenario", type=_scenario, default="normal")
    d.add_argument("--seed", type=int, default=0)
    common_ui(d)

    r = sub.add_parser("run", help="the console on the services of a config file (no file: the demo)")
    r.add_argument("--config", "-c")
    common_ui(r)

    sv = sub.add_parser("serve", help="the collector: poll headless and serve the console to attached viewers",
                        epilog=scenarios, formatter_class=argparse.RawDescriptionHelpFormatter)
    sv.add_argument("--config", "-c", help="the services (no file: the demo fleet)")
    sv.add_argument("--listen", metavar="HOST:PORT", help="default: [serve] listen, else 127.0.0.1:8765; "
                    "off loopback needs [serve] tokens")
    sv.add_argument("--scenario", type=_scenario, default="normal", help="the demo fleet's (without --config)")
    sv.add_argument("--seed", type=int, default=0)
    common_ui(sv)

    at = sub.add_parser("attach", help="the console as a viewer of a collector (`opsconsole serve`)")
    at.add_argument("url", metavar="URL", help="the collector, e.g. http://127.0.0.1:8765/")
    at.add_argument("--token-env", metavar="VAR", help="the environment variable holding this viewer's token")
    at.add_argument("--read-only", action="store_true", help="never send a change (refused by the collector)")
    layout_option(at)
    low_bandwidth_flag(at)

    s = sub.add_parser("sim", help="run the simulated fleet alone and print its URLs", epilog=scenarios,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--scenario", type=_scenario, default="normal")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--write-config", metavar="FILE", help="also write a console config pointing at it")

    n = sub.add_parser("snapshot", help="poll for a while, print one JSON document of the state")
    src = n.add_mutually_exclusive_group()
    src.add_argument("--config", "-c")
    src.add_argument("--demo", action="store_true", help="the embedded simulator (the default with no --config)")
    n.add_argument("--scenario", type=_scenario, default="normal")
    n.add_argument("--seed", type=int, default=0)
    n.add_argument("--env")
    n.add_argument("--for", dest="duration", type=_duration, default=10.0, help="how long to poll (default 10s)")
    n.add_argument("--virtual-time", action="store_true",
                   help="run on a virtual clock as fast as possible (with --demo: minutes of scenario in seconds)")
    n.add_argument("--json", action="store_true", help="print JSON (the only format)")
    n.add_argument("--record", metavar="PATH", help="record what is polled into this file")

    rp = sub.add_parser("replay", help="the dashboard on a recording, with a timeline (or one instant headless)")
    rp.add_argument("path")
    rp.add_argument("--snapshot-at", metavar="T", help="print the state at T (RFC3339, -30s from the end, start, end)")
    rp.add_argument("--json", action="store_true", help="print JSON (the only format)")
    layout_option(rp)
    low_bandwidth_flag(rp)

    rs = sub.add_parser("recordings", help="list recordings: start, end, services, size")
    rs.add_argument("--dir", help="folder to list (default: <data_dir>/recordings)")
    rs.add_argument("--config", "-c", help="its data_dir (default: the user data dir)")

    ex = sub.add_parser("export", help="write a recording's samples as CSV, JSON lines or OpenMetrics text")
    ex.add_argument("path")
    ex.add_argument("--from", dest="start", metavar="T", help="start (as --snapshot-at; default: the start)")
    ex.add_argument("--to", dest="end", metavar="T", help="end (default: the end)")
    ex.add_argument("--series", metavar="SELECTOR", help='a PromQL selector, e.g. up{job="pulse"}')
    ex.add_argument("--format", choices=("csv", "jsonl", "openmetrics"), required=True)
    ex.add_argument("--output", "-o", help="file to write (default: standard output)")

    a = sub.add_parser("audit", help="print the audit log of attempted mitigations (headless)")
    a.add_argument("--config", "-c", help="its data_dir (default: the user data dir)")
    a.add_argument("--since", type=_duration, help="only the last DURATION, e.g. 1h")
    a.add_argument("--json", action="store_true", help="one JSON document")

    i = sub.add_parser("incidents", help="list the incidents kept in the data dir (headless)")
    i.add_argument("--config", "-c", help="its data_dir (default: the user data dir)")
    i.add_argument("--env", help="only this environment's incidents")
    i.add_argument("--open", action="store_true", help="only triggered, acknowledged or mitigating ones")
    i.add_argument("--json", action="store_true", help="one JSON document, with every transition")
    i.add_argument("--stale-acks", action="store_true",
                   help="also ask the config's Alertmanagers for ack silences that match no alert")

    w = sub.add_parser("web", help="serve the viewer in a browser: each tab a read-only viewer of a collector")
    w.add_argument("--listen", default="127.0.0.1:8000", metavar="HOST:PORT",
                   help="where browsers connect (default 127.0.0.1:8000; off loopback a token is required)")
    w.add_argument("--collector", metavar="URL", help="the `opsconsole serve` each tab attaches to")
    w.add_argument("--token-env", metavar="VAR", help="environment variable holding the token (for the collector, "
                                                      "and asked of every browser once)")
    w.add_argument("--operate", action="store_true", help="viewers may change things, as the token allows")
    w.add_argument("--viewer-demo", metavar="SCENARIO", type=_scenario, help=argparse.SUPPRESS)  # development only
    layout_option(w)

    from console.rules.cli import add_parser as add_rules  # `rules check|test|export`

    add_rules(sub)
    return p


def _offsets(argv: list[str]) -> list[str]:
    """`--snapshot-at -30s` as the issue writes it: argparse would take -30s for an option."""
    out = list(argv)
    for i, a in enumerate(out[:-1]):
        if a in ("--snapshot-at", "--from", "--to") and out[i + 1].startswith("-"):
            out[i:i + 2] = [f"{a}={out[i + 1]}", ""]
    return [a for a in out if a != ""]


class CurrentStderr(logging.StreamHandler):
    """Warnings to whatever `sys.stderr` is when they happen: while a screen is up Textual holds it, so a warning
    never lands on top of the screen (the log file in the data dir has it, console/tasks.py)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_offsets(sys.argv[1:] if argv is None else argv))
    handler = CurrentStderr()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    try:
        sim = _early_simulator(args)  # first: it starts on the other core while the console imports
        import asyncio

        if args.cmd == "snapshot":
            return asyncio.run(_snapshot(args))
        if args.cmd == "sim":
            return asyncio.run(_sim(args))
        if args.cmd == "serve":
            from console.remote.serve_cmd import serve_cmd

            return serve_cmd(args)
        if args.cmd == "attach":
            from screens.attach import run_attach  # textual is imported only for the TUI

            return run_attach(args)
        if args.cmd in ("replay", "recordings", "export"):
            return _recording_cmd(args)
        if args.cmd == "audit":
            return asyncio.run(_audit(args))
        if args.cmd == "incidents":
            return asyncio.run(_incidents(args))
        if args.cmd == "web":
            from screens.web import run_web  # textual-serve is imported only for the browser

            return run_web(args)
        if args.cmd == "rules":
            from console.rules.cli import main as rules_main

            return rules_main(args)
        return _tui(args, sim)
    except ConfigError as e:
        print(f"opsconsole: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - the traceback goes to the log, scrubbed (it may hold a password)
        from . import tasks

        print(f"opsconsole: internal error: {tasks.report(args.cmd, e)}", file=sys.stderr)
        return 1


def _early_simulator(args):
    """The TUI demo's fleet, forked in a child process before anything heavy is imported (None: not the demo)."""
    if args.cmd not in ("demo", "run") or getattr(args, "config", None):
        return None
    from .sim_process import SimProcess

    return SimProcess(scenario=args.scenario if args.cmd == "demo" else "normal",
                      seed=args.seed if args.cmd == "demo" else 0)


async def _snapshot(args) -> int:
    from .clock import VirtualClock, WallClock
    from .session import Session

    virtual = args.virtual_time
    clock = VirtualClock(WallClock().now()) if virtual else WallClock()
    session = Session(config_path=args.config, env=args.env, scenario=args.scenario, seed=args.seed, clock=clock,
                      record=args.record)
    engine = await session.start()
    try:
        end = clock.now() + args.duration
        while True:
            state = await engine.tick()
            if clock.now() >= end:
                break
            if virtual:
                clock.advance(engine.cfg.tick)
            else:
                await clock.sleep(min(engine.cfg.tick, end - clock.now()))
    finally:
        await session.stop()
    json.dump(state.to_json(), sys.stdout, indent=2, default=str, allow_nan=False)
    sys.stdout.write("\n")
    return 1 if state.firing else 0


async def _sim(args) -> int:
    import asyncio

    from .clock import WallClock
    from .demo import Demo, demo_config_dict

    demo = Demo(WallClock(), scenario=args.scenario, seed=args.seed)
    await demo.start()
    print(f"simulated fleet, scenario {args.scenario}:")
    for kind, url in demo.urls.items():
        print(f"  {kind:14} {url}")
    print("credentials (export these in the console's shell):")
    for k, v in demo.credentials.env().items():
        print(f"  export {k}={v}")
    if args.write_config:
        from console.config.writer import write_config

        write_config(args.write_config, demo_config_dict(demo.urls))
        print(f"config written to {args.write_config}")
    print("Ctrl-C stops it.")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await demo.stop()
    return 0


async def _incidents(args) -> int:
    from console.config.schema import load_config
    from console.incidents.store import default_path, list_incidents, report

    from .clock import WallClock

    data_dir = load_config(args.config).data_dir if args.config else None
    rows = await list_incidents(default_path(data_dir), args.env)
    if args.open:
        rows = [(env, inc) for env, inc in rows if inc.is_open]
    text = report(rows, WallClock().now(), as_json=args.json)
    if args.stale_acks:
        from console.incidents.ack_silences import stale_once, stale_report

        if not args.config:
            sys.stderr.write("opsconsole incidents: --stale-acks needs --config (its Alertmanager services)\n")
            return 2
        stale, errors = await stale_once(load_config(args.config), WallClock())
        if args.json:
            text = json.dumps({"incidents": json.loads(text), "stale_acks": stale, "errors": errors}, indent=2) + "\n"
        else:
            text += stale_report(stale, errors)
    sys.stdout.write(text)
    return 0


async def _audit(args) -> int:
    from console.config.schema import load_config
    from console.mitigations.audit import audit_path, print_audit

    from .clock import WallClock

    data_dir = load_config(args.config).data_dir if args.config else None
    since = WallClock().now() - args.since if args.since is not None else None
    return await print_audit(audit_path(data_dir), since, args.json)


def _recording_cmd(args) -> int:
    """replay, recordings, export: a bad recording is one line and exit 2."""
    from console.recording.format import RecordingError

    try:
        if args.cmd == "recordings":
            from console.recording.export import list_recordings

            return list_recordings(args)
        if args.cmd == "export":
            from console.recording.export import export_cmd

            return export_cmd(args)
        if args.snapshot_at is not None:
            from console.recording.replay import snapshot_cmd

            return snapshot_cmd(args)
        from screens.replay import run_replay  # textual is imported only for the TUI

        return run_replay(args)
    except RecordingError as e:
        print(f"opsconsole: {e}", file=sys.stderr)
        return 2


def _tui(args, sim=None) -> int:
    import gc

    # importing builds modules that live as long as the process: the collector's passes over them cost ~15 % of
    # the import time before the first frame, and find nothing to free. Frozen (out of every later pass: else the
    # first one walks every object the imports made, ~40 ms young then ~20 ms older, measured), and the collector
    # stays off until the first live figures are on screen: the app turns it back on then (`gc_held`)
    gc.disable()
    try:
        from screens.app import run_app  # textual is imported only for the TUI
    finally:
        gc.freeze()
    try:
        return run_app(args, sim, gc_held=True)
    finally:
        gc.enable()


if __name__ == "__main__":
    sys.exit(main())
