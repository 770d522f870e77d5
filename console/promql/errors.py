"""The two ways a PromQL expression fails: at load (unsupported or invalid) or while evaluating."""


class UnsupportedQuery(ValueError):
    """The expression does not parse, or uses a construct the local evaluator lacks."""


class EvalError(ValueError):
    """Evaluation failed the way Prometheus fails it (e.g. many-to-many matching, duplicate series)."""
