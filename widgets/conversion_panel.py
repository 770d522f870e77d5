"""Pulse conversion health: status as reported and as recomputed, rates, coverage, invalid and skipped events."""

from __future__ import annotations

from console.state import ConsoleState, ServiceState

from . import fmt
from .panel import Panel


def last_event(f: dict) -> str:
    """The age of the last event: the service's figure, else from the counters (marked), else `?` and why."""
    age = f.get("last_event_age")
    if age is None:
        why = f.get("last_event_age_why")
        return "last event [dim]?[/]" + (f" [dim]({why})[/]" if why else "")
    text = f"last event {fmt.recent_age(age)} ago"
    if age > 300:  # the runbook's stall line
        text = f"[$error]▲ {text}[/]"
    return text + (" [dim](counters)[/]" if f.get("last_event_age_source") == "counters" else "")


class ConversionPanel(Panel):
    KEYS = "panel:conversion"  # its mitigation keys: in the footer while this panel is focused
    LINES = 5
    WINDOWED = frozenset({"rate_1m", "rate_5m", "status_computed"})

    def render_service(self, svc: ServiceState, state: ConsoleState) -> list[str]:
        f = svc.figures
        if not f:
            return []
        expected = not f.get("status_disagree") and (
            f.get("degraded_expected") or (f.get("warming_up") and f.get("status_reported") == "degraded"))
        # `degraded` that the runbook expects (the deferred types, or a service minutes old) is no warning: the
        # normal scenario read as a fault from its first second (issue 16, item 18)
        mark = (lambda s: "[dim]◐ degraded[/]" if s == "degraded" else fmt.status(s)) if expected else fmt.status
        status = (f"service {mark(f.get('status_reported'))} · counters "
                  f"{fmt.filling(f, 'status_computed', mark(f.get('status_computed')))}")
        if f.get("status_disagree"):
            status += " [$warning]≠ disagree[/]"
        elif expected:
            status += " [dim](expected)[/]"
        types = f.get("types")
        if types is None:  # no health reading: unknown, never shown as missing
            cover = "types [dim]?[/]"
        else:
            seen = sum(1 for t in types if t["seen"])
            deferred = sum(1 for t in types if not t["seen"] and t["deferred"])
            missing = f.get("missing_unexpected") or []
            cover = f"types {seen}/{len(types)} seen · {deferred} deferred [dim](expected missing)[/]"
            stalled = "stale" in (f.get("status_reported"), f.get("status_computed"))
            if missing and not seen and stalled:  # no event of any type: the stall, not an emission gap per type
                cover = f"types {seen}/{len(types)} · [dim]none arriving (a stall: see the last event)[/]"
            elif missing and f.get("warming_up"):  # just started: not seen *yet*, neutral
                waiting = missing[0] if len(missing) == 1 else f"{len(missing)} frontend types"
                cover = f"types {seen}/{len(types)} seen · [dim]started <5m ago, waiting for {waiting}[/]"
            elif missing:
                cover = f"types {seen}/{len(types)} · [$error]▲ missing {', '.join(missing)}[/]"
        invalid = f.get("invalid") or {}
        card = invalid.get("cardinality_exceeded")
        other = sum(v for r, v in invalid.items() if r != "cardinality_exceeded")
        card_txt = f"cardinality {fmt.num(card)}"
        if f.get("dropped_5m"):
            card_txt = f"[$error]▲ cardinality {fmt.num(card)} (+{fmt.num(f['dropped_5m'])}/5m dropped)[/]"
        skipped = sum((f.get("skipped") or {}).values())
        buckets = f.get("bucket_count")
        limit = f.get("bucket_limit")
        collection = fmt.on_off(f.get("enabled"))
        off = f.get("disabled_surfaces") or []
        return [
            status,
            f"{last_event(f)} · {fmt.filling(f, 'rate_1m', fmt.rate(f.get('rate_1m')) + ' 1m')}"
            f" · {fmt.filling(f, 'rate_5m', fmt.rate(f.get('rate_5m')) + ' 5m')}",
            cover,
            f"invalid: {card_txt} · other {fmt.num(other)} · skipped {fmt.num(skipped)}",
            f"buckets {fmt.over(buckets, limit, fmt.num(buckets) + (f'/{limit:g}' if limit is not None else ''))}"
            f" · collection {collection}"
            + (f" [$warning]off: {', '.join(off)}[/]" if off else ""),
        ]
