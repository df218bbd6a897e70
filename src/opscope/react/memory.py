"""In-memory adapters of the reaction ports, for tests, replays and the embedded demo.

All are thread-safe: the engine may deliver from worker threads.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from opscope.model.execution import (
    ApprovalRequest,
    ApprovalState,
    DeliveryState,
    Execution,
    NotificationEntry,
)
from opscope.react.ports import AuditQuery


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests and replays move by hand: event time, not wall time."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, value: datetime) -> None:
        self._now = value

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


class MemoryAuditLog:
    def __init__(self, max_records: int = 100_000) -> None:
        self._records: dict[str, Execution] = {}
        self._max = max_records
        self._lock = threading.Lock()

    def record(self, execution: Execution) -> None:
        with self._lock:
            self._records[execution.id] = execution
            while len(self._records) > self._max:  # bounded: oldest goes first
                self._records.pop(next(iter(self._records)))

    def get(self, execution_id: str) -> Execution | None:
        return self._records.get(execution_id)

    def query(self, query: AuditQuery) -> list[Execution]:
        with self._lock:
            items = list(self._records.values())
        found = [e for e in reversed(items) if _matches(e, query)]
        return found[: query.limit]


def _matches(e: Execution, q: AuditQuery) -> bool:
    return (
        (not q.rule or e.rule == q.rule)
        and (not q.action or e.action == q.action)
        and (q.status is None or e.status is q.status)
        and (not q.subject or e.subject == q.subject)
        and (q.since is None or e.started_at >= q.since)
        and (q.until is None or e.started_at < q.until)
    )


class MemoryApprovalStore:
    def __init__(self) -> None:
        self._items: dict[str, ApprovalRequest] = {}
        self._lock = threading.Lock()

    def put(self, request: ApprovalRequest) -> None:
        with self._lock:
            self._items[request.id] = request

    def get(self, approval_id: str) -> ApprovalRequest | None:
        return self._items.get(approval_id)

    def list(self, state: ApprovalState | None = None) -> list[ApprovalRequest]:
        with self._lock:
            return [r for r in self._items.values() if state is None or r.state is state]


class MemoryNotificationLog:
    def __init__(self) -> None:
        self._entries: dict[str, NotificationEntry] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, at: datetime) -> NotificationEntry | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                return found
            self._entries[key] = NotificationEntry(
                key=key, state=DeliveryState.SENDING, claimed_at=at
            )
            return None

    def complete(self, key: str, at: datetime, detail: dict[str, Any]) -> None:
        with self._lock:
            old = self._entries.get(key)
            claimed = old.claimed_at if old else at
            self._entries[key] = NotificationEntry(
                key=key, state=DeliveryState.SENT, claimed_at=claimed, sent_at=at, detail=detail
            )

    def release(self, key: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.state is DeliveryState.SENDING:
                del self._entries[key]

    def get(self, key: str) -> NotificationEntry | None:
        return self._entries.get(key)

    def put(self, entry: NotificationEntry) -> None:
        with self._lock:
            self._entries[entry.key] = entry

    def entries(self) -> list[NotificationEntry]:
        with self._lock:
            return list(self._entries.values())


class MemoryActionState:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def load(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._items.get(key)
            return dict(found) if found is not None else None

    def save(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = dict(value)


class MemoryAnnotator:
    """Keeps notes per incident; the real one writes into the incident's timeline."""

    def __init__(self) -> None:
        self.notes: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def annotate(self, incident_id: str, text: str, author: str, at: datetime) -> str:
        with self._lock:
            notes = self.notes.setdefault(incident_id, [])
            note_id = f"{incident_id}-note-{len(notes) + 1}"
            notes.append({"id": note_id, "text": text, "author": author, "at": at.isoformat()})
            return note_id
