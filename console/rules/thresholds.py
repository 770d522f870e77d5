"""The panels' markers come from the loaded rules: override a rule's threshold and its panel marker moves too."""

from __future__ import annotations

from console.promql.parse import Binary, Num, compile_expr

from .load import Rule

COMPARISONS = ("==", "!=", ">", "<", ">=", "<=")

# panel figure → the rule whose threshold marks it (by kind of service)
MARKERS: dict[str, dict[str, str]] = {
    "conversion": {"bucket_limit": "ConversionCardinalityHigh"},
    "converge": {"debt_yellow": "VerificationDebtYellow", "debt_red": "VerificationDebtRed"},
    "path_tracker": {"fallback_threshold": "PathTrackerFallbackRate",
                     "generate_error_threshold": "PathTrackerGenerateErrors"},
    "data_pipeline": {"error_ratio_threshold": "HighErrorRate", "p95_threshold": "HighLatencyP95",
                      "queue_threshold": "MetadataLogQueueFull", "rate_limit_threshold": "RateLimitExceeded",
                      "cpu_threshold": "HighCPUUsage"},
}


def first_threshold(expr: str) -> float | None:
    """The number of the first comparison PromQL evaluates (`x >= 30 < 70` → 30; a volume guard after `and` is not it)."""
    def walk(node) -> float | None:
        if not isinstance(node, Binary):
            return None
        found = walk(node.lhs)
        if found is not None:
            return found
        if node.op in COMPARISONS and isinstance(node.rhs, Num):
            return node.rhs.value
        return walk(node.rhs)

    try:
        return walk(compile_expr(expr))
    except ValueError:
        return None


def markers(rules: list[Rule], service: str, kind: str) -> dict[str, float | None]:
    """The thresholds one service's panel shows; None where the rule is disabled or has no plain comparison."""
    by_name = {r.name: r for r in rules if r.service == service}
    return {figure: first_threshold(by_name[name].expr) if name in by_name else None
            for figure, name in MARKERS.get(kind, {}).items()}
