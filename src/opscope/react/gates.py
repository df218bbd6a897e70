"""The shared stages every action run passes, in order, before it is delivered.

Each gate looks at a :class:`Run` and either lets it pass (``None``) or stops it with a
status and a reason that go into the audit record. A gate that counted something (a
rate-limit hit, a concurrency slot, a notification-log claim) undoes it when a later
gate stops the run, and hears about the delivery's outcome in ``done``. The order is
assembled in one place, :func:`standard_gates`::

    duplicate -> dry run -> rate limit -> entity rate limit -> cooldown -> approval
      -> circuit breaker -> concurrency -> claim (notification log) -> deliver (with retry)
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from opscope.model.execution import (
    ApprovalRequest,
    ApprovalState,
    DeliveryState,
    ExecutionStatus,
)
from opscope.react.actions.base import ActionContext
from opscope.react.circuit import CircuitBreaker
from opscope.react.policies import ConcurrencyLimiter, Cooldown, Policies, WindowLimiter
from opscope.react.ports import ApprovalStore, NotificationLog
from opscope.react.rules import BoundAction
from opscope.react.triggers import Trigger


def action_key(rule: str, action: str) -> str:
    return f"{rule}/{action}"


def entity_key(rule: str, action: str, entity: str) -> str:
    return f"{rule}/{action}/{entity}"


@dataclass(frozen=True)
class PastDelivery:
    """A delivery read back from the audit, to rebuild counters after a restart."""

    rule: str
    action: str
    entity: str
    policies: Policies
    at: datetime
    delivered: bool
    approved: bool


@dataclass
class Run:
    """One action about to run for one trigger, as it moves through the gates."""

    rule: str
    bound: BoundAction
    trigger: Trigger
    ctx: ActionContext
    key: str
    policies: Policies
    inputs: dict[str, Any]
    now: datetime
    dry_run: bool = False
    approval_id: str = ""
    approved_by: str = ""
    resend: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def action_key(self) -> str:
        return action_key(self.rule, self.bound.name)

    @property
    def entity_key(self) -> str:
        return entity_key(self.rule, self.bound.name, self.trigger.entity)

    @property
    def target(self) -> str:
        return self.bound.action.target()


@dataclass(frozen=True)
class Stop:
    status: ExecutionStatus
    reason: str


class Gate(Protocol):
    name: str

    def check(self, run: Run) -> Stop | None: ...

    def undo(self, run: Run) -> None: ...

    def done(self, run: Run, delivered: bool) -> None: ...


class _Quiet:
    """Default no-op ``undo`` and ``done``."""

    def undo(self, run: Run) -> None:
        return None

    def done(self, run: Run, delivered: bool) -> None:
        return None


class DuplicateGate(_Quiet):
    """Stops a run whose key the notification log already holds.

    A SENDING entry this engine did not claim was left by a run that died mid-delivery:
    ``in_doubt="skip"`` records it as in doubt, ``"resend"`` delivers again.
    """

    name = "duplicate"

    def __init__(self, log: NotificationLog, own: set[str], in_doubt: str) -> None:
        self.log = log
        self.own = own
        self.in_doubt = in_doubt

    def check(self, run: Run) -> Stop | None:
        entry = self.log.get(run.key)
        if entry is None:
            return None
        if entry.state is DeliveryState.SENT:
            when = entry.sent_at.isoformat() if entry.sent_at else "?"
            return Stop(ExecutionStatus.SUPPRESSED, f"duplicate: already delivered at {when}")
        if run.key in self.own:
            return Stop(ExecutionStatus.SUPPRESSED, "duplicate: delivery in progress")
        if self.in_doubt == "resend" and not run.dry_run:
            run.resend = True
            return None
        return Stop(
            ExecutionStatus.IN_DOUBT,
            "an earlier delivery was interrupted after it "
            f"started at {entry.claimed_at.isoformat()}; not sent again",
        )


class DryRunGate(_Quiet):
    name = "dry_run"

    def check(self, run: Run) -> Stop | None:
        if run.dry_run:
            return Stop(ExecutionStatus.DRY_RUN, "dry run: nothing was delivered")
        return None


class RateLimitGate(_Quiet):
    def __init__(self, per_entity: bool) -> None:
        self.per_entity = per_entity
        self.name = "entity_rate_limit" if per_entity else "rate_limit"
        self.limiter = WindowLimiter()

    def _key(self, run: Run) -> str:
        return run.entity_key if self.per_entity else run.action_key

    def check(self, run: Run) -> Stop | None:
        limit = run.policies.entity_rate_limit if self.per_entity else run.policies.rate_limit
        if limit is None or run.approved_by:  # counted when the approval was requested
            return None
        if self.limiter.allow(self._key(run), limit, run.now):
            run.notes[self.name] = True
            return None
        scope = f"entity {run.trigger.entity}" if self.per_entity else "rule action"
        return Stop(
            ExecutionStatus.SUPPRESSED,
            f"rate limit: {limit.count} per {limit.per} reached for the {scope}",
        )

    def undo(self, run: Run) -> None:
        if run.notes.pop(self.name, False):
            self.limiter.refund(self._key(run))

    def reset(self) -> None:
        self.limiter = WindowLimiter()

    def recall(self, past: PastDelivery) -> None:
        limit = past.policies.entity_rate_limit if self.per_entity else past.policies.rate_limit
        if limit is None or past.approved:  # as in check: approved runs are not counted
            return
        key = (entity_key(past.rule, past.action, past.entity) if self.per_entity
               else action_key(past.rule, past.action))
        self.limiter.seed(key, [past.at])


class CooldownGate(_Quiet):
    name = "cooldown"

    def __init__(self) -> None:
        self.cooldown = Cooldown()

    def check(self, run: Run) -> Stop | None:
        period = run.policies.cooldown
        if period is None or run.approved_by:
            return None
        left = self.cooldown.remaining(run.entity_key, period, run.now)
        if left.total_seconds() > 0:
            return Stop(
                ExecutionStatus.SUPPRESSED,
                f"cooldown: {int(left.total_seconds())}s left for {run.trigger.entity}",
            )
        return None

    def done(self, run: Run, delivered: bool) -> None:
        if delivered and run.policies.cooldown is not None:
            self.cooldown.mark(run.entity_key, run.now)

    def reset(self) -> None:
        self.cooldown = Cooldown()

    def recall(self, past: PastDelivery) -> None:
        if past.delivered and past.policies.cooldown is not None:
            self.cooldown.mark(entity_key(past.rule, past.action, past.entity), past.at)


def approval_id_of(key: str) -> str:
    # Derived from the delivery key: the same trigger replayed asks for approval once.
    return "apr-" + hashlib.sha256(key.encode()).hexdigest()[:24]


class ApprovalGate(_Quiet):
    name = "approval"

    def __init__(self, store: ApprovalStore) -> None:
        self.store = store

    def check(self, run: Run) -> Stop | None:
        policy = run.policies.approval
        if policy is None or not policy.required or run.approved_by:
            return None
        approval_id = approval_id_of(run.key)
        run.approval_id = approval_id
        existing = self.store.get(approval_id)
        if existing is not None:
            return Stop(
                ExecutionStatus.SUPPRESSED,
                f"approval {approval_id} already requested ({existing.state.value})",
            )
        # One open question per rule, action and subject: later versions of the same
        # incident do not pile up requests while the first one waits for a person.
        for waiting in self.store.list(ApprovalState.PENDING):
            same = (waiting.rule, waiting.action, waiting.subject)
            if same == (run.rule, run.bound.name, run.trigger.subject) and (
                waiting.expires_at > run.now
            ):
                return Stop(ExecutionStatus.SUPPRESSED, f"approval {waiting.id} is still waiting")
        self.store.put(
            ApprovalRequest(
                id=approval_id,
                rule=run.rule,
                action=run.bound.name,
                subject=run.trigger.subject,
                trigger=run.trigger.model_dump(mode="json"),
                inputs=run.notes.get("audit_inputs", {}),
                idempotency_key=run.key,
                requested_at=run.now,
                expires_at=run.now + policy.ttl,
            )
        )
        until = run.now + policy.ttl
        return Stop(
            ExecutionStatus.PENDING_APPROVAL,
            f"waiting for approval {approval_id} until {until:%Y-%m-%d %H:%M:%S}Z",
        )


class CircuitGate(_Quiet):
    name = "circuit"

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    def check(self, run: Run) -> Stop | None:
        if self.breaker.allow(run.target, run.now):
            return None
        return Stop(ExecutionStatus.SUPPRESSED, f"circuit open for {run.target}")

    def done(self, run: Run, delivered: bool) -> None:
        # Only failures that say "try later" count against the target: a 4xx or a runbook
        # exit code means it answered, which is what the breaker wants to know.
        if delivered or not run.notes.get("retryable_failure"):
            self.breaker.success(run.target)
        else:
            self.breaker.failure(run.target, run.now)


class ConcurrencyGate(_Quiet):
    name = "concurrency"

    def __init__(self) -> None:
        self.limiter = ConcurrencyLimiter()

    def check(self, run: Run) -> Stop | None:
        limit = run.policies.concurrency
        if limit is None:
            return None
        if self.limiter.acquire(run.action_key, limit):
            run.notes[self.name] = True
            return None
        return Stop(ExecutionStatus.SUPPRESSED, f"concurrency: {limit} already in flight")

    def _release(self, run: Run) -> None:
        if run.notes.pop(self.name, False):
            self.limiter.release(run.action_key)

    def undo(self, run: Run) -> None:
        self._release(run)

    def done(self, run: Run, delivered: bool) -> None:
        self._release(run)


class ClaimGate(_Quiet):
    """Writes the SENDING entry before delivery; SENT (or removal) after it."""

    name = "claim"

    def __init__(self, log: NotificationLog, own: set[str]) -> None:
        self.log = log
        self.own = own
        self._lock = threading.Lock()

    def check(self, run: Run) -> Stop | None:
        existing = self.log.claim(run.key, run.now)
        if existing is not None and not (run.resend and existing.state is DeliveryState.SENDING):
            return Stop(ExecutionStatus.SUPPRESSED, "duplicate: claimed by another delivery")
        with self._lock:
            self.own.add(run.key)
        run.notes[self.name] = True
        return None

    def undo(self, run: Run) -> None:
        if run.notes.pop(self.name, False):
            self.log.release(run.key)
            with self._lock:
                self.own.discard(run.key)

    def done(self, run: Run, delivered: bool) -> None:
        if not run.notes.pop(self.name, False):
            return
        if delivered:
            self.log.complete(run.key, run.now, run.notes.get("result", {}))
        else:
            self.log.release(run.key)
        with self._lock:
            self.own.discard(run.key)


def standard_gates(
    log: NotificationLog, approvals: ApprovalStore, breaker: CircuitBreaker, in_doubt: str
) -> list[Gate]:
    """The gates in the order every run passes them."""
    own: set[str] = set()
    return [
        DuplicateGate(log, own, in_doubt),
        DryRunGate(),
        RateLimitGate(per_entity=False),
        RateLimitGate(per_entity=True),
        CooldownGate(),
        ApprovalGate(approvals),
        CircuitGate(breaker),
        ConcurrencyGate(),
        ClaimGate(log, own),
    ]
