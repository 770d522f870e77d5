"""A plan as plain data for the confirm dialog: exactly what will be sent, where, and what proves it."""

from __future__ import annotations

import json
import re
from typing import Callable

from .catalog import render
from .executor import Plan, Step


def sent(step: Step) -> str:
    if step.kind == "http":
        body = "" if step.body is None else "\n" + json.dumps(step.body, indent=None)
        return f"{step.method} {step.url}{body}"
    return step.summary()


def proof_text(plan: Plan) -> str:
    """What the re-poll after sending must show, e.g. `intake: mode = "pause"`."""
    p = plan.action.proves
    v = plan.steps[0].values
    where = p.endpoint
    if p.rows:
        match = ", ".join(f"{k}={render(m, v)}" for k, m in p.match.items())
        where += f": {p.rows}[{match}]" if len(plan.steps) == 1 else f": {p.rows}[each {', '.join(p.match)}]"
        where += f".{p.field}" if p.field else ""
    elif p.field:
        where += f": {p.field}"  # no field: the whole answer, e.g. `config = {...}` (was `config:  = {...}`)
    expected = "" if p.op == "absent" else json.dumps(render(p.value, v))
    op = {"equals": "=", "contains": "contains", "excludes": "excludes", "absent": "no longer listed",
          "decreased": "below"}[p.op]
    text = f"{where} {op} {expected}".rstrip() + (" (or 0)" if p.op == "decreased" else "")
    if p.propagation:
        text += f"; then executions, within the {p.propagation / 60:g} min cache"
    return text + ", re-polled after sending"


_CREDENTIAL = re.compile(r"(-u\s+['\"]?[^:\s'\"]+):[^\s'\"]+")  # curl -u user:password


def quoted_line(plan: Plan) -> str:
    """The runbook's line as it applies here: the picked item and the real target; a password never."""
    a, line = plan.action, plan.action.line
    if a.line_item and plan.target:
        line = line.replace(a.line_item, plan.target)
    if a.line_base:
        line = line.replace(a.line_base, plan.service.url.rstrip("/"))
    return _CREDENTIAL.sub(r"\1:***", line)


def plan_view(plan: Plan, clean: Callable[[str], str]) -> dict:
    """The dialog's content as rows of (label, text, style); style "step:<kind>" marks what is sent. Every text is
    scrubbed of secrets; none is markup."""
    rows: list[list[str]] = []
    if plan.target:
        rows.append(["target", clean(plan.target), ""])
    for i, step in enumerate(plan.steps):
        rows.append(["sends" if i == 0 else "", clean(sent(step)), "step:" + step.kind])
    rows.append(["auth", clean(plan.auth), ""])
    if plan.action.proves is not None:
        rows.append(["proves", clean(proof_text(plan)), ""])
    rows.append(["runbook", plan.action.runbook, ""])
    if plan.action.line:
        rows.append(["", clean(quoted_line(plan)), "italic"])
    return {
        "title": (f"Undo #{plan.inverse_of}: " if plan.inverse_of is not None else "") + plan.action.title,
        "action": plan.action.id, "environment": plan.environment,
        "production": plan.production or plan.environment == "production", "read_only": plan.read_only,
        "service": plan.service.name, "kind": plan.action.kind, "dangerous": plan.action.dangerous,
        "summary": clean(plan.summary()), "rows": rows, "target": plan.target, "runbook": plan.action.runbook,
        # what each step sends, as data: a remote viewer's dialog and the tests read these
        "steps": [{"kind": s.kind, "method": s.method, "url": s.url, "body": s.body, "argv": list(s.argv),
                   "values": json.loads(json.dumps(s.values, default=str))} for s in plan.steps],
    }
