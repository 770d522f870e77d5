"""Plans and sends mitigations without blocking the UI, audits every attempt, and verifies each by re-polling."""

from __future__ import annotations

import asyncio
import getpass
import json
import shlex
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .catalog import PICKS, Action, PlanError, context, evidence_expr, render
from .audit import AuditLog, AuditRow
from .records import RecentActions
from console.clock import Clock
from console.config.schema import Auth, Config, Service
from console.events import Hub, MitigationChanged, Tick
from console.safe_text import clean
from console.sources.transport import SourceError, auth_headers, config_scrubber, send_once
from console.sources.pipelines import put_switch
from console.state import ActionRecord, ConsoleState

if TYPE_CHECKING:  # loaded on the first HTTP action, not at start: ~5 MiB the dashboard does not need
    import httpx

VERIFY_TIMEOUT = 60.0  # a proving state not seen this long after sending: failed (never re-sent)
SETTLED = ("confirmed", "failed", "refused", "cancelled")


@dataclass(frozen=True)
class Step:
    """One thing sent: an HTTP request, an SSM PutParameter or a command line, and the values it was filled with."""

    kind: str  # http | ssm | command
    values: dict
    method: str = ""
    url: str = ""
    body: Any = None
    argv: tuple[str, ...] = ()
    parameter: str = ""  # ssm: the parameter's name
    enabled: bool = False  # ssm: the value written

    def summary(self) -> str:
        if self.kind == "http":
            return f"{self.method} {self.url}" + ("" if self.body is None else " " + json.dumps(self.body))
        if self.kind == "ssm":
            return f'SSM PutParameter {self.parameter} = "{str(self.enabled).lower()}" (overwrite)'
        return "$ " + shlex.join(self.argv)


@dataclass
class Plan:
    """Exactly what an action will send, where, with which credential (by name), and the values it captured."""

    action: Action
    service: Service
    environment: str
    production: bool
    read_only: bool
    values: dict  # the state and picked item before sending: the inverse is filled with these
    items: list[dict]  # the picked item, or every item of an `each` action
    steps: list[Step]
    target: str | None
    auth: str
    inverse_of: int | None = None
    by: str | None = None  # who asked (an attached viewer's user@host); None: this console's user

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.action.id, self.service.name, self.target or "")

    def summary(self) -> str:
        return "; ".join(s.summary() for s in self.steps)


def describe_auth(service: Service, step_kind: str) -> str:
    """The credential a step sends, named by where it comes from (never its value)."""
    if step_kind == "ssm":
        sw = service.switches
        return f"AWS credential chain (env, profile or role), region {sw.region}" + (
            f", endpoint {sw.endpoint_url}" if sw and sw.endpoint_url else "")
    if step_kind == "command":
        return f"runs as {getpass.getuser()} on {socket.gethostname()} (no shell)"
    a: Auth = service.auth
    return {"basic": f"basic auth as {a.username} (password from ${a.password_env})",
            "bearer": f"bearer token from ${a.token_env}",
            "header": f"header {a.header} from ${a.value_env}"}.get(a.type, "no credentials")


def service_for(action: Action, cfg: Config) -> Service:
    for s in cfg.services:
        if (action.service and s.name == action.service) or (not action.service and s.kind == action.kind):
            return s
    raise PlanError(f"no {action.service or action.kind} service is configured")


def make_plan(action: Action, cfg: Config, state: ConsoleState, now: float, item: dict | str | None = None, *,
              values: dict | None = None, items: list[dict] | None = None, inverse_of: int | None = None) -> Plan:
    """Fill the action's templates from the service's state (or captured `values`); PlanError when it cannot."""
    svc = service_for(action, cfg)
    if values is None:
        values, items = dict(context(action.kind, state.services.get(svc.name))), []
        src = state.services[svc.name]
        listed = PICKS[action.items_from].listed(src, action.where if action.each else {}) if action.items_from else []
        if action.each:
            items = listed
            if not items:
                where = " and ".join(f"{k}={json.dumps(v)}" for k, v in action.where.items()) or "listed"
                raise PlanError(f"nothing to do: no {action.each} item is {where}")
        elif action.pick:
            if isinstance(item, str):
                key, item = item, next((i for i in listed if i["key"] == item), None)
                if item is None:
                    raise PlanError(f"{key!r} is not in the {action.pick} list now")
            if item is None:
                raise PlanError(f"{action.id} needs an item picked from {action.pick}")
            items = [item]
            values.update(item)
    values = {**values, "now_ms": int(now * 1000), "now_s": int(now), "service": svc.name,
              "environment": cfg.environment}
    per_item = [{**values, **i} for i in items] if action.each else [values]
    steps = [_step(action, svc, v) for v in per_item]
    if action.proves:  # a proof that cannot be filled now could never be checked: refuse up front
        for v in per_item:
            render([action.proves.value, action.proves.match], v)
    target = ", ".join(i["key"] for i in items) if items else None
    return Plan(action, svc, cfg.environment, cfg.production, cfg.read_only, values, list(items or []), steps,
                target, describe_auth(svc, steps[0].kind), inverse_of)


def _step(action: Action, svc: Service, v: dict) -> Step:
    if action.ssm and svc.switches is not None and svc.switches.provider == "ssm":
        pipeline = render(action.ssm.pipeline, v)
        name = "/" + svc.switches.path.strip("/") + f"/{pipeline}/enabled"
        return Step("ssm", v, parameter=name, enabled=action.ssm.enabled)
    if action.request:
        r = action.request
        return Step("http", v, method=r.method, url=svc.url.rstrip("/") + render(r.path, v, url=True),
                    body=render(r.body, v))
    return Step("command", v, argv=tuple(str(render(a, v)) for a in action.command))


@dataclass
class _Verifying:
    plan: Plan
    record: ActionRecord
    sent_at: float  # when sending began: a reading polled after it that shows the proving state proves it


Query = Callable[[str, float], list[tuple[dict, float]]]


class Executor:
    """Sends plans (never twice at once, never retried), records and audits every attempt, verifies by re-poll.

    Its collaborators: the config, the clock, the hub (it publishes MitigationChanged and MitigationAudited and
    verifies at each Tick), `state` (the current ConsoleState, read to plan and to verify), `records` (the
    recent actions the state shows), `query` (PromQL at an instant: a propagation's evidence) and `expedite`
    (poll a service's endpoints at the next tick: the re-poll that verifies).
    """

    def __init__(self, actions: dict[str, Action], *, cfg: Config, clock: Clock, hub: Hub,
                 state: Callable[[], ConsoleState], records: RecentActions, query: Query,
                 expedite: Callable[..., None], audit: AuditLog | None = None, user: str | None = None) -> None:
        self.actions = actions
        self.cfg = cfg
        self.clock = clock
        self.hub = hub
        self.state = state
        self.records = records
        self.query = query
        self.expedite = expedite
        self.audit = audit
        self.user = user or f"{getpass.getuser()}@{socket.gethostname()}"
        self._unsubscribe: Callable[[], None] | None = None
        self._seq = 0
        self._in_flight: dict[tuple, ActionRecord] = {}
        self._verifying: dict[int, _Verifying] = {}
        self._plans: dict[int, Plan] = {}
        self._undone: set[int] = set()
        self._client: httpx.AsyncClient | None = None
        self._scrub = config_scrubber(cfg)

    async def start(self) -> None:
        if self.audit is not None:
            await self.audit.open()
            self._seq = self.audit.last_attempt
        # at the tick, before rules and incidents: a confirmation is in the very state that shows the proof
        self._unsubscribe = self.hub.subscribe(Tick, lambda tick: self.verify(self.state()))

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.audit is not None:
            await self.audit.close()

    # --- planning ---------------------------------------------------------------------------

    def plan(self, action_id: str, item: dict | str | None = None) -> Plan:
        action = self.actions.get(action_id)
        if action is None:
            raise PlanError(f"no action {action_id!r}")
        return make_plan(action, self.cfg, self.state(), self.clock.now(), item)

    def undoable(self) -> ActionRecord | None:
        """The newest action that was sent, has an inverse, and was not undone yet."""
        for rec in self.records:
            plan = self._plans.get(rec.seq)
            if (plan and plan.action.inverse and rec.seq not in self._undone and rec.inverse_of is None
                    and rec.status in ("verifying", "propagating", "confirmed")):
                return rec
        return None

    def plan_inverse(self) -> Plan:
        rec = self.undoable()
        if rec is None:
            raise PlanError("nothing to undo")
        orig = self._plans[rec.seq]
        inv = self.actions[orig.action.inverse]
        return make_plan(inv, self.cfg, self.state(), self.clock.now(),
                         values=orig.values, items=orig.items, inverse_of=rec.seq)

    def items(self, action_id: str) -> list[dict]:
        """What the user may pick for an action now."""
        action = self.actions[action_id]
        svc = self.state().services.get(service_for(action, self.cfg).name)
        return PICKS[action.pick].listed(svc, action.where) if action.pick and svc is not None else []

    # --- attempts ---------------------------------------------------------------------------

    def refusal(self, plan: Plan) -> str | None:
        if plan.read_only:
            return f"read-only ({plan.environment}): nothing sent"
        if plan.key in self._in_flight:
            return f"already in flight (#{self._in_flight[plan.key].seq}): not sent again"
        return None

    def refuse(self, plan: Plan, reason: str) -> ActionRecord:
        return self._settle(self._record(plan, "refused", reason), "refused", reason)

    def refuse_unplanned(self, action_id: str | None, reason: str, target: str | None = None,
                         by: str | None = None) -> ActionRecord:
        """An attempt refused before any plan existed (a value it needs is unknown, nothing to undo): shown and
        audited like every other attempt."""
        action = self.actions.get(action_id) if action_id else None
        try:
            service = service_for(action, self.cfg).name if action else ""
        except PlanError:
            service = action.service or action.kind
        self._seq += 1
        now = self.clock.now()
        rec = ActionRecord(self._seq, now, action_id or "undo", action.title if action else "Undo", service,
                           self.cfg.environment, target, "(nothing planned)", "refused",
                           answer=self.clean(reason), updated=now)
        self.records.add(rec)
        self._audit(rec, "refused", reason, by)
        self._changed(rec)
        return rec

    def refuse_command(self, cmd: dict, reason: str, by: str | None, source: str) -> None:
        """A façade command (plain data) refused before it reached anything (a read-only viewer's, a rewound
        display's): audited, attributed."""
        command = str(cmd.get("verb") or cmd.get("action") or cmd.get("cmd"))
        target = cmd.get("id") or cmd.get("name") or cmd.get("plan_id")
        target = None if target is None else str(target)[:80]
        service = str(cmd.get("service") or "")
        self._seq += 1
        row = AuditRow(self.clock.now(), by or self.user, self.cfg.environment, service, command, target, self._seq,
                       "refused", f"{command} from {source}", self.clean(reason))
        if self.audit is not None:
            self.audit.append(row)
        self.hub.publish(row)

    def cancel(self, plan: Plan) -> ActionRecord:
        return self._settle(self._record(plan, "cancelled", "cancelled in the confirm dialog"), "cancelled",
                            "cancelled in the confirm dialog")

    async def execute(self, plan: Plan) -> ActionRecord:
        """Send every step in order (stop at the first failure); then verify by re-polling."""
        reason = self.refusal(plan)
        if reason:
            return self.refuse(plan, reason)
        rec = self._record(plan, "sending", "sending…")
        self._in_flight[plan.key] = rec
        if plan.inverse_of is not None:
            self._undone.add(plan.inverse_of)
            # the action being undone stops being verified: its outcome so far stands (an undo never rewrites it
            # as failed), and the record says what came after it
            undone = self._verifying.pop(plan.inverse_of, None)
            if undone is not None:
                undone.record.proof = (undone.record.proof + " · " if undone.record.proof else "") + \
                    f"undone by #{rec.seq} before it settled"
                self._changed(undone.record)
        code, answer, ok = None, "", True
        for n, step in enumerate(plan.steps):
            code, answer, ok = await self._send(plan, step)
            if not ok:
                if n:
                    answer += f" (stopped after {n} of {len(plan.steps)} sent)"
                break
        rec.code = code
        if not ok:
            return self._settle(rec, "failed", answer)
        proof = plan.action.proves
        if proof is None:  # the answer is the proof (e.g. the test event's 202)
            return self._settle(rec, "confirmed", answer)
        self._audit(rec, "sent", answer)
        rec.answer, rec.status, rec.proof = self.clean(answer), "verifying", "re-polling…"
        self._verifying[rec.seq] = _Verifying(plan, rec, rec.ts)
        keys = (proof.endpoint, "metrics") if proof.evidence else (proof.endpoint,)
        self.expedite(plan.service.name, *keys)
        self._changed(rec)
        return rec

    def _record(self, plan: Plan, status: str, answer: str) -> ActionRecord:
        self._seq += 1
        now = self.clock.now()
        rec = ActionRecord(self._seq, now, plan.action.id, plan.action.title, plan.service.name, plan.environment,
                           plan.target, self.clean(plan.summary()), status, answer=answer, updated=now,
                           inverse_of=plan.inverse_of)
        self._plans[rec.seq] = plan
        self.records.add(rec)
        self._changed(rec)
        return rec

    def _settle(self, rec: ActionRecord, status: str, text: str, *, verified: bool = False) -> ActionRecord:
        """A final (or propagating) outcome: shown, audited, and the action may be pressed again.

        `text` is the answer (or error) of sending, or with `verified` what the re-poll saw."""
        text = self.clean(text)
        if verified:
            rec.proof = text
        else:
            rec.answer = text
        rec.status = status
        plan = self._plans[rec.seq]
        if self._in_flight.get(plan.key) is rec:
            del self._in_flight[plan.key]
        if status in SETTLED:
            self._verifying.pop(rec.seq, None)
        self._audit(rec, status, text)
        self._changed(rec)
        return rec

    def _audit(self, rec: ActionRecord, result: str, detail: str, by: str | None = None) -> None:
        plan = self._plans.get(rec.seq)
        by = by or (plan.by if plan is not None else None)
        row = AuditRow(self.clock.now(), by or self.user, rec.environment, rec.service, rec.action, rec.target,
                       rec.seq, result, rec.summary, self.clean(detail))
        if self.audit is not None:
            self.audit.append(row)
        self.hub.publish(row)

    def _changed(self, rec: ActionRecord) -> None:
        rec.updated = self.clock.now()
        self.hub.publish(MitigationChanged(rec))

    def clean(self, text: str, limit: int | None = None) -> str:
        """Service or command text as kept: escapes stripped, every configured secret masked, then cut."""
        self._scrub.refresh()
        return clean(text, self._scrub, limit)

    # --- sending: no retry, one line per outcome ------------------------------------------

    async def _send(self, plan: Plan, step: Step) -> tuple[int | None, str, bool]:
        try:
            if step.kind == "ssm":
                await put_switch(plan.service, step.parameter.rsplit("/", 2)[1], step.enabled)
                return None, f"SSM PutParameter ok: {step.parameter} = {str(step.enabled).lower()}", True
            if step.kind == "command":
                return await self._run(step, plan.action.timeout)
            return await self._http(plan.service, step, plan.action.request.expect)
        except SourceError as e:
            return None, str(e), False

    async def _http(self, svc: Service, step: Step, expect: tuple[int, ...]) -> tuple[int | None, str, bool]:
        headers = auth_headers(svc.auth)  # SourceError names an unset variable
        if self._client is None:
            import httpx  # here, on the first HTTP action: most sessions never send one (~5 MiB of imports)

            self._client = httpx.AsyncClient(follow_redirects=False)  # no retries: httpx never resends by itself
        resp = await send_once(self._client, step.method, step.url, headers, svc.timeout, step.body)
        code = resp.status_code
        answer = self.clean(resp.content.decode("utf-8", "replace"), 100) or "(empty body)"
        if code in (401, 403):
            what = "unauthorized" if code == 401 else "forbidden"
            return code, f"HTTP {code} {what}: {describe_auth(svc, 'http')} was refused ({answer}); not retried", False
        ok = code in expect if expect else 200 <= code < 300
        if not ok and expect:
            return code, f"HTTP {code}, expected {'/'.join(map(str, expect))}: {answer}", False
        return code, f"HTTP {code} {answer}", ok

    async def _run(self, step: Step, timeout: float) -> tuple[int | None, str, bool]:
        try:
            proc = await asyncio.create_subprocess_exec(*step.argv, stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as e:
            return None, f"cannot run {step.argv[0]}: {e.strerror or e}", False
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None, f"timeout after {timeout:g}s: killed", False
        lines = [ln for ln in (out + err).decode("utf-8", "replace").splitlines() if ln.strip()]
        last = self.clean(lines[-1], 100) if lines else "(no output)"
        return proc.returncode, f"exit {proc.returncode}: {last}", proc.returncode == 0

    # --- verification: at every tick, on the readings it just ingested --------------------

    def verify(self, state: ConsoleState) -> None:
        for v in list(self._verifying.values()):
            try:
                self._verify_one(v, state)
            except PlanError as e:  # a captured value went missing: cannot tell, fail rather than guess
                self._settle(v.record, "failed", f"cannot verify: {e}", verified=True)

    def _verify_one(self, v: _Verifying, state: ConsoleState) -> None:
        proof, rec = v.plan.action.proves, v.record
        svc = state.services.get(v.plan.service.name)
        ep = svc.endpoints.get(proof.endpoint) if svc else None
        elapsed = state.ts - v.sent_at
        seen = []
        if ep is not None and ep.data is not None and ep.last_ok is not None and ep.last_ok >= v.sent_at:
            seen = [proof.observe(ep.data, s.values) for s in v.plan.steps]
        holds = bool(seen) and all(ok for ok, _ in seen)
        shown = _show([val for _, val in seen])
        where = proof.field or proof.rows or proof.endpoint
        if proof.op == "absent":
            where = f"{rec.target} in {proof.rows}"
        if holds and proof.propagation:
            self._propagate(v, state, elapsed, f"{where} = {shown}")
        elif holds:
            self._settle(rec, "confirmed", f"{where} = {shown}", verified=True)
        elif seen and rec.status == "propagating":
            self._settle(rec, "failed", f"{where} reads {shown} again", verified=True)
        elif elapsed > VERIFY_TIMEOUT:
            now_seen = f"{where} is {shown}" if seen else f"{proof.endpoint} not read since"
            self._settle(rec, "failed", f"not confirmed within {VERIFY_TIMEOUT:g}s: {now_seen}", verified=True)

    def _propagate(self, v: _Verifying, state: ConsoleState, elapsed: float, read_back: str) -> None:
        """A change that takes time to reach effect (the Storytailor switch cache): executions must confirm it."""
        proof, job = v.plan.action.proves, v.plan.service.job or v.plan.service.name
        if proof.evidence and all(self._evidence(proof.evidence, s.values, job, elapsed, state.ts)
                                  for s in v.plan.steps):
            self._settle(v.record, "confirmed", f"{read_back}; executions confirm it", verified=True)
        elif elapsed >= proof.propagation:
            self._settle(v.record, "confirmed", f"{read_back}; the {proof.propagation / 60:g} min cache has expired",
                         verified=True)
        elif v.record.status != "propagating":
            self._settle(v.record, "propagating", f"{read_back}; executions not yet affected "
                                                  f"(up to {proof.propagation / 60:g} min)", verified=True)

    def _evidence(self, expr: str, values: dict, job: str, elapsed: float, at: float) -> bool:
        try:
            result = self.query(evidence_expr(expr, values, job, elapsed), at)
        except Exception:  # evidence unknown: the propagation time decides
            return False
        return any(val > 0 for _, val in result)


def _show(values: list) -> str:
    """What was seen, once when every item shows the same (`false (×8)`)."""
    texts = [v if isinstance(v, str) else json.dumps(v) for v in values]
    if len(set(texts)) == 1:
        return texts[0] + (f" (×{len(texts)})" if len(texts) > 1 else "")
    return ", ".join(texts)
