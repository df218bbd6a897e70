"""The narrow ports the reaction engine talks through; in-memory adapters are in ``memory``.

Storage-backed adapters (DuckDB, PostgreSQL) implement the same protocols later; the
engine depends on nothing else for state that must outlive it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from opscope.model.execution import (
    ApprovalRequest,
    ApprovalState,
    Execution,
    ExecutionStatus,
    NotificationEntry,
)
from opscope.react.triggers import Trigger


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class AuditQuery:
    """Filter for :meth:`AuditLog.query`; empty fields do not filter. Newest first."""

    rule: str = ""
    action: str = ""
    status: ExecutionStatus | None = None
    subject: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


class AuditLog(Protocol):
    """Where every execution is recorded."""

    def record(self, execution: Execution) -> None: ...

    def get(self, execution_id: str) -> Execution | None: ...

    def query(self, query: AuditQuery) -> list[Execution]: ...


class ApprovalStore(Protocol):
    """Held actions waiting for a decision."""

    def put(self, request: ApprovalRequest) -> None:
        """Insert or replace the request with the same id."""
        ...

    def get(self, approval_id: str) -> ApprovalRequest | None: ...

    def list(self, state: ApprovalState | None = None) -> list[ApprovalRequest]: ...


class NotificationLog(Protocol):
    """Delivery keys, claimed before delivery and marked after: a restart sends once.

    ``claim`` must be atomic (insert if absent): it is what keeps two engines, or an
    engine and its restarted self, from both delivering.
    """

    def claim(self, key: str, at: datetime) -> NotificationEntry | None:
        """Create a SENDING entry and return None; if the key exists, return that entry."""
        ...

    def complete(self, key: str, at: datetime, detail: dict[str, Any]) -> None:
        """Mark the key SENT, keeping what was sent."""
        ...

    def release(self, key: str) -> None:
        """Forget a claim whose delivery failed, so a later trigger may try again."""
        ...

    def get(self, key: str) -> NotificationEntry | None: ...

    def put(self, entry: NotificationEntry) -> None:
        """Write an entry as is (the router keeps its group state this way)."""
        ...


class ActionState(Protocol):
    """Small per-key memory for actions, e.g. the Slack message ts of an incident."""

    def load(self, key: str) -> dict[str, Any] | None: ...

    def save(self, key: str, value: dict[str, Any]) -> None: ...


class IncidentAnnotator(Protocol):
    """Adds a note to an incident's timeline; implemented by whoever owns incidents."""

    def annotate(self, incident_id: str, text: str, author: str, at: datetime) -> str:
        """Return the id of the note."""
        ...


class HistorySource(Protocol):
    """Stored triggers, for replaying rules over the past without running anything."""

    def triggers(self, start: datetime, end: datetime) -> Iterable[Trigger]: ...


Executions = Sequence[Execution]
