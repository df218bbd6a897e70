"""Policies: the shared stages every action passes through, whatever its kind.

A rule (and each of its actions, overriding the rule) may set:

* ``dry_run`` — render and record what would be sent, send nothing. The engine's
  ``ReactSettings.dry_run`` forces it for every rule.
* ``approval`` — hold the action until a person approves it (API call or signed link)
  within ``ttl``; see :mod:`opscope.react.approval`.
* ``rate_limit`` — at most ``count`` deliveries per ``per`` for the rule+action;
  ``entity_rate_limit`` the same per entity (service, host) as well.
* ``cooldown`` — after a delivery for an entity, further ones for that entity wait.
* ``concurrency`` — at most this many deliveries of the rule+action in flight.
* ``retry`` — attempts and exponential backoff for failures the action calls retryable.

Limits count in event time through the injected clock, so a replay behaves as live
traffic did. Their state is in memory and is rebuilt at start-up from the audit's
recent deliveries (:meth:`opscope.react.engine.ReactionEngine.restore_limits`), so a
restart does not reopen a rate limit or end a cooldown early.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from opscope.react.duration import Duration


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(PolicyModel):
    count: int = Field(ge=1, description="Deliveries allowed in each window.")
    per: Duration = Field(description="Window length, e.g. 1h.")


class RetryPolicy(PolicyModel):
    attempts: int = Field(default=3, ge=1, le=10, description="Tries in all, the first included.")
    backoff: Duration = Field(default=timedelta(seconds=1), description="Wait before the 2nd try.")
    factor: float = Field(
        default=2.0, ge=1.0, le=10.0, description="Each further wait is this times."
    )
    max_backoff: Duration = Field(default=timedelta(seconds=60), description="Longest single wait.")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        base = self.backoff.total_seconds() * self.factor ** (attempt - 1)
        wait = min(base, self.max_backoff.total_seconds())
        if retry_after is not None:  # the target said when; honour it within the cap
            wait = min(max(wait, retry_after), self.max_backoff.total_seconds())
        return wait


class ApprovalPolicy(PolicyModel):
    required: bool = Field(default=True, description="Hold the action until approved.")
    ttl: Duration = Field(
        default=timedelta(hours=1), description="Unanswered requests expire then."
    )
    approvers: list[str] = Field(
        default_factory=list, description="Who may approve; empty means any authenticated user."
    )


class Policies(PolicyModel):
    """Policy settings of a rule or of one action (an action's own settings win)."""

    dry_run: bool | None = Field(default=None, description="Record only, deliver nothing.")
    approval: ApprovalPolicy | None = Field(default=None, description="Hold until approved.")
    rate_limit: RateLimit | None = Field(default=None, description="Per rule and action.")
    entity_rate_limit: RateLimit | None = Field(
        default=None, description="Per rule, action and entity."
    )
    cooldown: Duration | None = Field(
        default=None, description="Quiet time per entity after a delivery."
    )
    concurrency: int | None = Field(default=None, ge=1, description="Deliveries in flight at once.")
    retry: RetryPolicy | None = Field(default=None, description="Retries of retryable failures.")

    def over(self, base: Policies) -> Policies:
        """These settings, with unset ones taken from ``base``."""
        merged = base.model_dump(exclude_none=True)
        merged.update(self.model_dump(exclude_none=True))
        return Policies.model_validate(merged)


class WindowLimiter:
    """Sliding-window counter per key, in event time."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, limit: RateLimit, now: datetime) -> bool:
        """Count a hit if the window has room; say whether it had."""
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            horizon = now - limit.per
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) >= limit.count:
                return False
            hits.append(now)
            return True

    def seed(self, key: str, hits: list[datetime]) -> None:
        """Count past hits (e.g. read back from the audit after a restart)."""
        with self._lock:
            merged = sorted([*self._hits.get(key, ()), *hits])
            self._hits[key] = deque(merged)

    def refund(self, key: str) -> None:
        """Give back the last hit, when a later stage stopped the delivery after all."""
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()


class Cooldown:
    """Per-key quiet time after a delivery, in event time."""

    def __init__(self) -> None:
        self._last: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def remaining(self, key: str, period: timedelta, now: datetime) -> timedelta:
        with self._lock:
            last = self._last.get(key)
        if last is None:
            return timedelta(0)
        return max(timedelta(0), last + period - now)

    def mark(self, key: str, now: datetime) -> None:
        with self._lock:
            last = self._last.get(key)
            self._last[key] = now if last is None else max(last, now)


class ConcurrencyLimiter:
    """In-flight count per key; a delivery over the limit is stopped, not queued."""

    def __init__(self) -> None:
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, limit: int) -> bool:
        with self._lock:
            if self._running.get(key, 0) >= limit:
                return False
            self._running[key] = self._running.get(key, 0) + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            left = self._running.get(key, 1) - 1
            if left <= 0:
                self._running.pop(key, None)
            else:
                self._running[key] = left
