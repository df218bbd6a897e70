"""The reaction engine: triggers in, rules matched, actions run through shared gates.

Typical wiring::

    engine = ReactionEngine(load_rules(path), ReactPorts.in_memory(), ReactSettings(...))
    engine.handle({"kind": "incident.opened", "incident": {...}})   # -> list[Execution]
    engine.tick()                    # schedules, routing flushes, approval expiry
    engine.approve(approval_id, by="alice")   # or engine.decide_by_token(token)

``handle`` evaluates every rule against the trigger; for each action of each matching
rule it renders the request (``prepare``), passes the gates of
:mod:`opscope.react.gates` and delivers, retrying retryable failures with exponential
backoff. Every outcome is one :class:`~opscope.model.execution.Execution` written to the
audit port and returned. Rules with ``route`` also feed the routing tree, whose group
notifications run the receivers' actions through the same gates. The engine is
synchronous and thread-safe: a server runs ``handle`` in a worker thread.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import orjson

from opscope.errors import AuthError, NotFound, ValidationFailed
from opscope.model.execution import (
    ApprovalRequest,
    ApprovalState,
    Execution,
    ExecutionStatus,
)
from opscope.react.actions.base import ActionContext, ActionServices, DeliveryFailed
from opscope.react.approval import ApprovalSigner, Decision
from opscope.react.circuit import CircuitBreaker
from opscope.react.expr import lookup
from opscope.react.gates import (
    CooldownGate,
    Gate,
    PastDelivery,
    RateLimitGate,
    Run,
    Stop,
    standard_gates,
)
from opscope.react.memory import (
    MemoryActionState,
    MemoryApprovalStore,
    MemoryAuditLog,
    MemoryNotificationLog,
    SystemClock,
)
from opscope.react.ports import (
    ActionState,
    ApprovalStore,
    AuditLog,
    AuditQuery,
    Clock,
    IncidentAnnotator,
    NotificationLog,
)
from opscope.react.routing import Dispatch, RoutedAlert, Router
from opscope.react.rules import BoundAction, CompiledRule, RuleSet
from opscope.react.settings import ReactSettings
from opscope.react.templates import TemplateError
from opscope.react.triggers import (
    Scheduler,
    Trigger,
    TriggerKind,
    schedule_trigger,
    trigger_from_fields,
)

_SECRET_KEYS = ("authorization", "token", "password", "secret", "routing_key", "api_key")
ROUTE_PREFIX = "route:"


@dataclass
class ReactPorts:
    audit: AuditLog
    approvals: ApprovalStore
    notifications: NotificationLog
    state: ActionState
    annotator: IncidentAnnotator | None = None

    @classmethod
    def in_memory(cls, annotator: IncidentAnnotator | None = None) -> ReactPorts:
        return cls(
            MemoryAuditLog(),
            MemoryApprovalStore(),
            MemoryNotificationLog(),
            MemoryActionState(),
            annotator,
        )


@dataclass(frozen=True)
class Match:
    """A rule that matches a trigger, and the actions it would run (nothing is run)."""

    rule: str
    trigger: Trigger
    actions: list[str] = field(default_factory=list)
    routed: bool = False


def idempotency_key(rule: str, action: str, trigger: Trigger) -> str:
    raw = "\0".join((rule, action, trigger.kind.value, trigger.subject, trigger.version))
    return "k-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def _bounded(value: dict[str, Any], limit: int, kind: str) -> dict[str, Any]:
    # Audit records stay small: a trigger or request over the limit is kept as a marker.
    size = len(orjson.dumps(value, default=str))
    if size <= limit:
        return value
    return {"kind": kind, "truncated": True, "bytes": size}


def redact(value: Any) -> Any:
    """Hide secrets (tokens, passwords, keys) before inputs reach the audit log."""
    if isinstance(value, Mapping):
        return {
            k: "<redacted>" if any(s in str(k).lower() for s in _SECRET_KEYS) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class ReactionEngine:
    def __init__(
        self,
        rules: RuleSet,
        ports: ReactPorts,
        settings: ReactSettings | None = None,
        *,
        clock: Clock | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        approval_secret: bytes | None = None,
    ) -> None:
        self.settings = settings or ReactSettings()
        self.ports = ports
        self.clock = clock or SystemClock()
        self._sleep = sleep
        self._own_http = http is None
        self.http = http or httpx.Client(follow_redirects=False)
        self.services = ActionServices(
            http=self.http,
            state=ports.state,
            annotator=ports.annotator,
            runbook_dir=self.settings.runbook_dir,
            runbook_env={k: v for k, v in os.environ.items() if k in self.settings.runbook_env},
            base_url=self.settings.base_url.rstrip("/"),
        )
        self.signer = ApprovalSigner(approval_secret or os.urandom(32))
        self.breaker = CircuitBreaker(self.settings.circuit)
        self.gates: list[Gate] = standard_gates(
            ports.notifications, ports.approvals, self.breaker, self.settings.in_doubt
        )
        self.scheduler = Scheduler()
        self._lock = threading.Lock()
        self.rules = rules
        self.router: Router | None = None
        self.problems: list[str] = self.reload(rules)
        """Problems the rules' actions have with these settings (e.g. a missing runbook)."""
        self.restore_limits()

    # --- lifecycle ------------------------------------------------------------------

    def reload(self, rules: RuleSet) -> list[str]:
        """Swap in a new rule set; return problems its actions have with these services."""
        router = Router(rules.route, self.ports.notifications) if rules.route else None
        with self._lock:
            self.rules = rules
            self.router = router
        problems: list[str] = []
        for owner, actions in self._all_actions(rules):
            for bound in actions:
                problems.extend(
                    f"{owner}/{bound.name}: {p}" for p in bound.action.check(self.services)
                )
        return problems

    @staticmethod
    def _all_actions(rules: RuleSet) -> list[tuple[str, tuple[BoundAction, ...]]]:
        out = [(r.name, r.actions) for r in rules.rules]
        out.extend((ROUTE_PREFIX + name, acts) for name, acts in rules.receivers.items())
        return out

    def restore_limits(self, now: datetime | None = None) -> int:
        """Rebuild rate-limit and cooldown counters from the audit's recent deliveries.

        Called at start-up, so that a restart neither reopens a rate limit nor ends a
        cooldown early; the counters are replaced, not added to. Reads the deliveries
        (succeeded, or failed after an attempt) of the longest window any policy uses, at
        most the newest 1,000 of each outcome; returns how many were counted.
        """
        moment = now or self.clock.now()
        policies = {(owner, b.name): b.policies
                    for owner, actions in self._all_actions(self.rules) for b in actions}
        spans = [span for p in policies.values() for span in (
            p.rate_limit.per if p.rate_limit else None,
            p.entity_rate_limit.per if p.entity_rate_limit else None,
            p.cooldown) if span is not None]
        if not spans:
            return 0
        keepers = [g for g in self.gates if isinstance(g, RateLimitGate | CooldownGate)]
        for gate in keepers:
            gate.reset()
        counted = 0
        for status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
            query = AuditQuery(status=status, since=moment - max(spans), limit=1000)
            for execution in self.ports.audit.query(query):
                chosen = policies.get((execution.rule, execution.action))
                if chosen is None or execution.dry_run or execution.attempts == 0:
                    continue
                try:
                    trigger = trigger_from_fields(execution.trigger,
                                                  default_at=execution.started_at)
                except ValueError:
                    continue  # a trigger too large to keep whole: its entity is unknown
                past = PastDelivery(
                    execution.rule, execution.action, trigger.entity, chosen,
                    execution.started_at, status is ExecutionStatus.SUCCEEDED,
                    bool(execution.approved_by))
                for gate in keepers:
                    gate.recall(past)
                counted += 1
        return counted

    def close(self) -> None:
        """Release the HTTP client if the engine made it. Safe to call twice."""
        if self._own_http:
            self.http.close()

    # --- triggers -------------------------------------------------------------------

    def _as_trigger(self, trigger: Trigger | Mapping[str, Any]) -> Trigger:
        if isinstance(trigger, Trigger):
            return trigger
        try:
            return trigger_from_fields(trigger, default_at=self.clock.now())
        except ValueError as exc:
            raise ValidationFailed(f"not a trigger: {exc}") from exc

    def evaluate(self, trigger: Trigger | Mapping[str, Any]) -> list[Match]:
        """The rules this trigger matches and their actions; runs nothing."""
        current = self._as_trigger(trigger)
        return [
            Match(r.name, current, [a.name for a in r.actions], r.rule.route is not None)
            for r in self.rules.rules
            if r.matches(current)
        ]

    def handle(self, trigger: Trigger | Mapping[str, Any]) -> list[Execution]:
        """Run every matching rule's actions for this trigger; return their executions."""
        current = self._as_trigger(trigger)
        out: list[Execution] = []
        for rule in self.rules.rules:
            if not rule.matches(current):
                continue
            for bound in rule.actions:
                out.append(self._run(rule.name, bound, current))
            if rule.rule.route is not None and self.router is not None:
                self.router.add(self._routed_alert(rule, current), self.clock.now())
        out.extend(self._flush_routes(self.clock.now()))
        return out

    def tick(self, now: datetime | None = None) -> list[Execution]:
        """Fire due schedules, flush routing groups, expire approvals."""
        moment = now or self.clock.now()
        out: list[Execution] = []
        for rule in self.rules.rules:
            spec = rule.rule.trigger
            if not rule.rule.enabled or TriggerKind.SCHEDULE not in spec.on:
                continue
            cron = spec.cron_expr()
            if cron is not None:
                due = self.scheduler.due_cron(rule.name, cron, spec.catch_up, moment)
            elif spec.every is not None:
                due = self.scheduler.due(rule.name, spec.every, moment)
            else:
                continue
            for at in due:
                trig = schedule_trigger(rule.name, at, spec.every, spec.cron)
                if rule.matches(trig):
                    out.extend(self._run(rule.name, b, trig) for b in rule.actions)
        out.extend(self._flush_routes(moment))
        out.extend(self.expire_approvals(moment))
        return out

    # --- routing --------------------------------------------------------------------

    def _routed_alert(self, rule: CompiledRule, trigger: Trigger) -> RoutedAlert:
        body = trigger.body
        labels: dict[str, str] = {}
        raw_labels = body.get("labels")
        if isinstance(raw_labels, Mapping):
            labels.update({str(k): str(v) for k, v in raw_labels.items()})
        for name, key in (
            ("service", "service"),
            ("service", "entity"),
            ("severity", "severity"),
            ("alertname", "name"),
        ):
            if body.get(key) and name not in labels:
                labels[name] = str(body[key])
        labels["rule"] = rule.name
        assert rule.rule.route is not None  # the caller checked
        for name, path in rule.rule.route.labels.items():
            value = lookup(trigger.fields, tuple(path.split(".")))
            if value is not None:
                labels[name] = str(value)
        resolved = trigger.kind is TriggerKind.INCIDENT_RESOLVED or body.get("status") == "resolved"
        return RoutedAlert(
            trigger.subject,
            labels,
            resolved,
            trigger.at,
            {**trigger.fields, "kind": trigger.kind.value},
        )

    def _flush_routes(self, now: datetime) -> list[Execution]:
        router = self.router
        if router is None:
            return []
        out: list[Execution] = []
        for dispatch in router.flush(now):
            out.extend(self._notify(dispatch))
        return out

    def _notify(self, dispatch: Dispatch) -> list[Execution]:
        actions = self.rules.receivers.get(dispatch.receiver, ())
        trig = Trigger(kind=TriggerKind.NOTIFICATION, at=dispatch.at, fields=dispatch.fields())
        return [self._run(ROUTE_PREFIX + dispatch.receiver, b, trig) for b in actions]

    # --- one action -----------------------------------------------------------------

    def _context(self, rule: str, bound: BoundAction, trigger: Trigger, key: str) -> ActionContext:
        base = self.services.base_url
        section = trigger.kind.section
        subject_link = {
            "incident": f"{base}/incidents/{trigger.subject}",
            "anomaly": f"{base}/anomalies/{trigger.subject}",
            "event": f"{base}/events?fingerprint={trigger.body.get('fingerprint', '')}",
        }.get(section, base)
        fields = {
            **trigger.fields,
            "kind": trigger.kind.value,
            "rule": rule,
            "trigger": {
                "kind": trigger.kind.value,
                "at": trigger.at.isoformat(),
                "subject": trigger.subject,
                "version": trigger.version,
                "entity": trigger.entity,
                "fields": trigger.fields,
            },
            "links": {"opscope": base, "subject": subject_link},
        }
        return ActionContext(
            rule, bound.name, trigger, fields, key, self.clock.now(), self.services
        )

    def _run(
        self,
        rule: str,
        bound: BoundAction,
        trigger: Trigger,
        *,
        approved_by: str = "",
        approval_id: str = "",
    ) -> Execution:
        started = self.clock.now()
        t0 = time.perf_counter()
        key = idempotency_key(rule, bound.name, trigger)
        ctx = self._context(rule, bound, trigger, key)
        dry = self.settings.dry_run or bool(bound.policies.dry_run)
        run = Run(
            rule,
            bound,
            trigger,
            ctx,
            key,
            bound.policies,
            {},
            started,
            dry_run=dry,
            approval_id=approval_id,
            approved_by=approved_by,
        )
        try:
            run.inputs = bound.action.prepare(ctx)
        except (DeliveryFailed, TemplateError) as exc:
            return self._record(run, t0, ExecutionStatus.FAILED, f"could not prepare: {exc}")
        run.notes["audit_inputs"] = redact(run.inputs)
        passed: list[Gate] = []
        for gate in self.gates:
            stop: Stop | None = gate.check(run)
            if stop is not None:
                for earlier in reversed(passed):
                    earlier.undo(run)
                return self._record(run, t0, stop.status, stop.reason)
            passed.append(gate)
        status, reason, result, output, attempts = self._deliver(run)
        run.notes["result"] = result
        delivered = status is ExecutionStatus.SUCCEEDED
        for gate in reversed(passed):
            gate.done(run, delivered)
        return self._record(run, t0, status, reason, result, output, attempts)

    def _deliver(self, run: Run) -> tuple[ExecutionStatus, str, dict[str, Any], str, int]:
        retry = run.policies.retry or self.settings.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = run.bound.action.deliver(run.inputs, run.ctx)
            except DeliveryFailed as exc:
                if exc.retryable and attempt < retry.attempts:
                    self._sleep(retry.delay(attempt, exc.retry_after))
                    continue
                run.notes["retryable_failure"] = exc.retryable
                why = "gave up after retries: " if exc.retryable and attempt > 1 else ""
                return ExecutionStatus.FAILED, why + exc.message, exc.result, exc.output, attempt
            reason = "delivered again after an interrupted attempt" if run.resend else ""
            return ExecutionStatus.SUCCEEDED, reason, outcome.result, outcome.output, attempt

    def _record(
        self,
        run: Run,
        t0: float,
        status: ExecutionStatus,
        reason: str,
        result: dict[str, Any] | None = None,
        output: str = "",
        attempts: int = 0,
    ) -> Execution:
        limit = self.settings.max_trigger_bytes
        trigger_fields = _bounded(run.trigger.fields, limit, run.trigger.kind.value)
        inputs = _bounded(run.notes.get("audit_inputs", {}), limit, run.bound.kind)
        execution = Execution(
            id=uuid.uuid4().hex,
            rule=run.rule,
            action=run.bound.name,
            action_kind=run.bound.kind,
            trigger_kind=run.trigger.kind.value,
            subject=run.trigger.subject[:512],
            trigger=trigger_fields,
            idempotency_key=run.key,
            inputs=inputs,
            status=status,
            reason=reason[:2048],
            approval_id=run.approval_id,
            approved_by=run.approved_by,
            result=redact(result or {}),
            output=output[:65_536],
            attempts=attempts,
            dry_run=run.dry_run,
            started_at=run.now,
            finished_at=self.clock.now(),
            duration_ms=round((time.perf_counter() - t0) * 1000, 3),
        )
        self.ports.audit.record(execution)
        return execution

    # --- approvals ------------------------------------------------------------------

    def approval_token(
        self, approval_id: str, decision: Decision = "approve", approver: str = ""
    ) -> str:
        """A signed link token deciding this request as ``approver``; valid until it expires."""
        request = self._pending(approval_id)
        return self.signer.sign(approval_id, decision, request.expires_at, approver)

    def _pending(self, approval_id: str) -> ApprovalRequest:
        request = self.ports.approvals.get(approval_id)
        if request is None:
            raise NotFound(f"no approval request {approval_id!r}")
        return request

    def _find_action(self, rule: str, action: str) -> BoundAction:
        if rule.startswith(ROUTE_PREFIX):
            actions = self.rules.receivers.get(rule[len(ROUTE_PREFIX) :], ())
        else:
            found = self.rules.rule(rule)
            actions = found.actions if found else ()
        bound = next((a for a in actions if a.name == action), None)
        if bound is None:
            raise NotFound(f"rule {rule!r} no longer has action {action!r}")
        return bound

    def approve(self, approval_id: str, by: str) -> Execution:
        """Approve a held action and run it now; returns its execution."""
        request = self._pending(approval_id)
        now = self.clock.now()
        self._check_open(request, now)
        policy = self._find_action(request.rule, request.action).policies.approval
        if policy is not None and policy.approvers and by not in policy.approvers:
            raise AuthError(f"{by!r} may not approve actions of rule {request.rule!r}", 403)
        decided = request.model_copy(
            update={"state": ApprovalState.APPROVED, "decided_by": by, "decided_at": now}
        )
        self.ports.approvals.put(decided)
        bound = self._find_action(request.rule, request.action)
        trigger = Trigger.model_validate(request.trigger)
        return self._run(
            request.rule, bound, trigger, approved_by=by or "unknown", approval_id=approval_id
        )

    def reject(self, approval_id: str, by: str) -> Execution:
        request = self._pending(approval_id)
        now = self.clock.now()
        self._check_open(request, now)
        self.ports.approvals.put(
            request.model_copy(
                update={"state": ApprovalState.REJECTED, "decided_by": by, "decided_at": now}
            )
        )
        return self._close_request(request, ExecutionStatus.REJECTED, f"rejected by {by}", by)

    def decide_by_token(self, token: str) -> Execution:
        """Apply the decision a signed link carries, in the name of its approver."""
        approval_id, decision, approver = self.signer.verify(token, self.clock.now())
        by = approver or "signed-link"
        if decision == "approve":
            return self.approve(approval_id, by)
        return self.reject(approval_id, by)

    def _check_open(self, request: ApprovalRequest, now: datetime) -> None:
        if request.expired(now):
            self.expire_approvals(now)
            raise ValidationFailed(f"approval {request.id} expired at {request.expires_at}")
        if request.state is not ApprovalState.PENDING:
            raise ValidationFailed(f"approval {request.id} is already {request.state.value}")

    def expire_approvals(self, now: datetime | None = None) -> list[Execution]:
        moment = now or self.clock.now()
        out = []
        for request in self.ports.approvals.list(ApprovalState.PENDING):
            if request.expired(moment):
                self.ports.approvals.put(
                    request.model_copy(
                        update={"state": ApprovalState.EXPIRED, "decided_at": moment}
                    )
                )
                out.append(
                    self._close_request(
                        request,
                        ExecutionStatus.EXPIRED,
                        f"not approved by {request.expires_at}",
                        "",
                    )
                )
        return out

    def _close_request(
        self, request: ApprovalRequest, status: ExecutionStatus, reason: str, by: str
    ) -> Execution:
        now = self.clock.now()
        trigger = Trigger.model_validate(request.trigger)
        try:
            kind = self._find_action(request.rule, request.action).kind
        except NotFound:
            kind = "unknown"
        execution = Execution(
            id=uuid.uuid4().hex,
            rule=request.rule,
            action=request.action,
            action_kind=kind,
            trigger_kind=trigger.kind.value,
            subject=request.subject,
            trigger=trigger.fields,
            idempotency_key=request.idempotency_key,
            inputs=request.inputs,
            status=status,
            reason=reason,
            approval_id=request.id,
            approved_by=by,
            started_at=now,
            finished_at=now,
        )
        self.ports.audit.record(execution)
        return execution
