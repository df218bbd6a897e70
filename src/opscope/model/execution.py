"""What automated reaction did: executions of actions, approval requests, notification log.

An :class:`Execution` is the audit record of one action considered for one trigger: the
rule and trigger that caused it, the inputs it was (or would have been) given, who
approved it, what came back, how long it took and whether it was a dry run. Every action
the reaction engine considers leaves exactly one execution per outcome, including the
ones a policy stopped (rate limit, cooldown, duplicate, open circuit): those say why.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from opscope.model.base import Name, Record, UtcDatetime


class ExecutionStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DRY_RUN = "dry_run"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"
    """A policy stopped it: duplicate, rate limit, cooldown, concurrency, open circuit."""
    IN_DOUBT = "in_doubt"
    """A previous delivery was interrupted after it may have reached the target."""


class Execution(Record):
    """One action considered for one trigger, with its outcome."""

    id: str = Field(min_length=1, max_length=64, description="Unique id of this record.")
    rule: Name = Field(description="Name of the rule that matched.")
    action: Name = Field(description="Name of the action within the rule.")
    action_kind: Name = Field(description="webhook, runbook, slack, pagerduty, email, ...")
    trigger_kind: Name = Field(description="incident.opened, anomaly, event, schedule, ...")
    subject: str = Field(
        default="",
        max_length=512,
        description="What the trigger is about: incident id, event fingerprint, anomaly id.",
    )
    trigger: dict[str, Any] = Field(
        default_factory=dict, description="The trigger's fields as the rule saw them."
    )
    idempotency_key: str = Field(
        default="",
        max_length=256,
        description="Derived from rule, action, subject and version; one delivery per key.",
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="What the action was given: the rendered request."
    )
    status: ExecutionStatus
    reason: str = Field(default="", max_length=2048, description="Why it ended this way.")
    approval_id: str = Field(default="", max_length=64)
    approved_by: str = Field(default="", max_length=256)
    result: dict[str, Any] = Field(
        default_factory=dict,
        description="Structured answer: ticket id, Slack ts, HTTP status, exit code, ...",
    )
    output: str = Field(default="", max_length=65_536, description="Captured output, bounded.")
    attempts: int = Field(default=0, ge=0, description="Delivery attempts made.")
    dry_run: bool = False
    started_at: UtcDatetime
    finished_at: UtcDatetime
    duration_ms: float = Field(default=0.0, ge=0.0)


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ApprovalRequest(Record):
    """An action held until a person approves it (API call or signed link) or it expires."""

    id: str = Field(min_length=1, max_length=64)
    rule: Name
    action: Name
    subject: str = Field(default="", max_length=512)
    trigger: dict[str, Any] = Field(
        default_factory=dict, description="The trigger to run the action with once approved."
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="What the action will be given, for the approver."
    )
    idempotency_key: str = Field(default="", max_length=256)
    state: ApprovalState = ApprovalState.PENDING
    requested_at: UtcDatetime
    expires_at: UtcDatetime
    decided_by: str = Field(default="", max_length=256)
    decided_at: UtcDatetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.state is ApprovalState.PENDING and now >= self.expires_at


class DeliveryState(StrEnum):
    SENDING = "sending"
    SENT = "sent"


class NotificationEntry(Record):
    """One line of the notification log: a key claimed before delivery, marked after.

    The key is derived from rule + action + subject + version, so a restarted engine that
    sees the same trigger again finds the entry and does not deliver a second time.
    """

    key: str = Field(min_length=1, max_length=256)
    state: DeliveryState
    claimed_at: UtcDatetime
    sent_at: UtcDatetime | None = None
    detail: dict[str, Any] = Field(
        default_factory=dict, description="What was sent: ids, firing set, message ts."
    )
