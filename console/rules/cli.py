"""`opsconsole rules check|test|export`: rule files checked, unit-tested and written like promtool."""

from __future__ import annotations

import sys
from pathlib import Path

# yaml, PromQL and the rule-file loader are imported by the subcommands: `opsconsole`'s parser is built on every
# start (the demo's first frame waits for it) and needs none of them


def add_parser(sub) -> None:
    r = sub.add_parser("rules", help="check, unit-test or export Prometheus rule files")
    rs = r.add_subparsers(dest="rules_cmd", required=True)
    c = rs.add_parser("check", help="check rule files like `promtool check rules` (exit 1 on a problem)")
    c.add_argument("files", nargs="+", metavar="FILE")
    t = rs.add_parser("test", help="run promtool rule unit-test files on the local evaluator")
    t.add_argument("files", nargs="+", metavar="TEST.yml")
    t.add_argument("--config", "-c", help="take promql_semantics from this config")
    t.add_argument("--semantics", choices=["prometheus-3", "prometheus-2"],
                   help="PromQL dialect (default: the config's, else prometheus-3)")
    e = rs.add_parser("export", help="write the shipped rules, bound to the configured services")
    e.add_argument("--format", choices=["prometheus"], required=True)
    e.add_argument("--config", "-c", help="the services to bind to (default: the demo fleet's)")
    e.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")


def main(args) -> int:
    if args.rules_cmd == "check":
        return check(args.files)
    if args.rules_cmd == "test":
        return test(args)
    return export(args)


def check(files: list[str]) -> int:
    from console import promql

    from .promfile import RuleFileError, load_files

    status = 0
    for f in files:
        print(f"Checking {f}")
        try:
            groups = load_files([Path(f)], promql.check)
        except RuleFileError as e:
            print("  FAILED:")
            for problem in e.problems:
                print(problem)
            status = 1
        else:
            n = sum(len(g.rules) for g in groups)
            print(f"  SUCCESS: {n} rules found")
        print()
    return status


def test(args) -> int:
    from .unittest import run_file

    semantics = args.semantics
    if semantics is None and args.config:
        from console.config.schema import load_config

        semantics = load_config(args.config).promql_semantics
    semantics = semantics or "prometheus-3"
    status = 0
    for f in args.files:
        print(f"Unit Testing:  {f}")
        results, problems = run_file(Path(f), semantics)
        if problems:
            print("  FAILED:")
            for p in problems:
                print(p)
            status = 1
        for i, r in enumerate(results):
            label = f"test {i}" + (f" ({r.name})" if r.name else "")
            if r.ok:
                print(f"  {label}: SUCCESS")
            else:
                print(f"  {label}: FAILED:")
                for p in r.problems:
                    print(p)
                status = 1
        print()
    return status


def export(args) -> int:
    from .export import prometheus_rules

    if args.config:
        from console.config.schema import load_config

        cfg = load_config(args.config)
    else:
        from console.demo import demo_config

        cfg = demo_config({k: f"http://127.0.0.1:{9000 + i}" for i, k in enumerate(
            ("conversion", "pipelines", "converge", "path_tracker", "data_pipeline"))})
    import yaml

    text = yaml.safe_dump(prometheus_rules(cfg), sort_keys=False, allow_unicode=True, width=1000)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
