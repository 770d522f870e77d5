"""Pulse conversion health: status as reported and as recomputed, rates, coverage, invalid and skipped events."""

from __future__ import annotations

from console.state import ConsoleState, ServiceState

from . import fmt
from .panel import Panel


class ConversionPanel(Panel):
    LINES = 8

    def render_service(self, svc: ServiceState, state: ConsoleState) -> list[str]:
        f = svc.figures
        if not f:
            return []
        reported, computed = f.get("status_reported"), f.get("status_computed")
        status = f"service {fmt.status(reported)}  counters {fmt.status(computed)}"
        if f.get("status_disagree"):
            status += "  [$warning]≠ disagree[/]"
        elif f.get("degraded_expected"):
            status += "  [dim](expected)[/]"
        types = f.get("types") or []
        seen = sum(1 for t in types if t["seen"])
        deferred_missing = sum(1 for t in types if not t["seen"] and t["deferred"])
        missing = f.get("missing_unexpected") or []
        coverage = f"coverage {fmt.pct(f.get('coverage'), 0)} ({seen}/{len(types)} types; {deferred_missing} deferred expected missing)"
        if missing:
            coverage += f"  [$error]▲ missing: {', '.join(missing)}[/]"
        invalid = f.get("invalid") or {}
        card = invalid.get("cardinality_exceeded")
        inv = ", ".join(f"{r} {fmt.num(v)}" for r, v in sorted(invalid.items()) if r != "cardinality_exceeded")
        card_txt = f"cardinality_exceeded {fmt.num(card)}"
        if f.get("dropped_5m"):
            card_txt = f"[$error]▲ {card_txt} (+{fmt.num(f['dropped_5m'])} in 5m: dropped!)[/]"
        skipped = f.get("skipped") or {}
        skip_txt = ", ".join(f"{r} {fmt.num(v)}" for r, v in sorted(skipped.items())) or "none"
        buckets = f.get("bucket_count")
        bucket_txt = fmt.over(buckets, f.get("bucket_limit", 500), f"{fmt.num(buckets)} / {f.get('bucket_limit', 500)}")
        collection = fmt.on_off(f.get("enabled"))
        off = f.get("disabled_surfaces") or []
        if off:
            collection += f"  surfaces off: {', '.join(off)}"
        return [
            status,
            f"last event {fmt.age(f.get('last_event_age'))} ago   events {fmt.rate(f.get('rate_1m'))} (1m)  {fmt.rate(f.get('rate_5m'))} (5m)",
            coverage,
            f"invalid: {card_txt}" + (f", {inv}" if inv else ""),
            f"skipped: {skip_txt}",
            f"buckets {bucket_txt}   collection {collection}",
        ]
