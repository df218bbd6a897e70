"""Automated reactions: what the audit log, the approval store, the notification log and
the action state of both backends do the same way (filters, paging, reads, upserts); each
backend adds its statements, the audit's insert and the notification log's claim."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from opscope.model.execution import (
    ApprovalRequest,
    ApprovalState,
    DeliveryState,
    Execution,
    ExecutionStatus,
    NotificationEntry,
)
from opscope.store.ports import Page, Row
from opscope.store.sql.codec import to_naive_utc
from opscope.store.sql.database import SQLDatabase
from opscope.store.sql.paging import FetchPage, PageSpec
from opscope.store.sql.where import Where, invalid

STATUSES = tuple(s.value for s in ExecutionStatus)


class ExecutionFilter(Protocol):
    """The filter fields shared by the engine's ``AuditQuery`` and :class:`ExecutionQuery`."""

    @property
    def rule(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def status(self) -> Any: ...
    @property
    def subject(self) -> str: ...
    @property
    def since(self) -> datetime | None: ...
    @property
    def until(self) -> datetime | None: ...
    @property
    def limit(self) -> int: ...


def execution_filter(where: Where, query: ExecutionFilter) -> Where:
    """``where`` (a backend's empty clause) with the filter's clauses on executions."""
    if query.rule:
        where.add("rule = ?", query.rule)
    if query.action:
        where.add("action = ?", query.action)
    if query.status is not None:
        status = str(getattr(query.status, "value", query.status))
        if status not in STATUSES:
            raise invalid("status", f"status must be one of {', '.join(STATUSES)}")
        where.add("status = ?", status)
    if query.subject:
        where.add("subject = ?", query.subject)
    if query.since is not None:
        where.add("started_at >= ?", to_naive_utc(query.since))
    if query.until is not None:
        where.add("started_at < ?", to_naive_utc(query.until))
    return where


def dump_orjson(value: Any) -> str:
    """JSON text of a document, as the embedded store writes it."""
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class ReactionReads:
    """What the audit log and the approval store do the same way on every backend, over
    one backend's ``WHERE`` clause, page reader and statements. ``document`` turns a
    stored JSON document into its value; ``execution`` and ``approval`` build the models
    from one. ``execution_by_id`` and ``approval_by_id`` select a document by id;
    ``approval_upsert`` writes an approval (id, state, request time, document).
    ``notification`` builds a delivery entry from its document; ``notification_by_key``
    selects one by key, ``notification_locked`` the same for a read-modify-write (locking
    the row where the backend can), ``notification_upsert`` writes one (key, state,
    document) and ``notification_release`` deletes a key in a given state.
    ``state_by_key`` and ``state_upsert`` (key, value, update time) serve the action
    state. ``dump`` turns a document into the JSON text the backend's column accepts."""

    where: Callable[[], Where]
    fetch_page: FetchPage
    document: Callable[[Any], Any]
    execution: Callable[[Any], Execution]
    approval: Callable[[Any], ApprovalRequest]
    notification: Callable[[Any], NotificationEntry]
    execution_by_id: str
    approval_by_id: str
    approval_upsert: str
    notification_by_key: str
    notification_locked: str
    notification_upsert: str
    notification_release: str
    state_by_key: str
    state_upsert: str
    dump: Callable[[Any], str] = dump_orjson


def dump_record(record: Any, dump: Callable[[Any], str] = dump_orjson) -> str:
    """A model as a JSON document, written with the backend's ``dump``."""
    return dump(record.model_dump(mode="json"))


class SQLAuditLog(ABC):
    """Every execution of an action, kept; see ``opscope.react.ports.AuditLog``. A
    backend adds :meth:`record`."""

    def __init__(self, db: SQLDatabase[Any], reads: ReactionReads) -> None:
        self._db = db
        self._reads = reads
        self._executions = PageSpec(
            "executions", "SELECT seq, started_at, doc FROM react_executions", "started_at",
            "seq", int, self._execution_row)

    @abstractmethod
    def record(self, execution: Execution) -> None:
        """Store ``execution``, or its new status and document if its id is stored."""

    def _execution_row(self, raw: dict[str, Any]) -> Row:
        row: Row = self._reads.document(raw["doc"])
        return row

    def get(self, execution_id: str) -> Execution | None:
        with self._db.read() as cur:
            row = self._db.first_row(cur, self._reads.execution_by_id, [execution_id])
        return self._reads.execution(row[0]) if row else None

    def query(self, query: ExecutionFilter) -> list[Execution]:
        """Newest first, at most ``query.limit``."""
        page = self.page(query, None)
        return [Execution.model_validate(item) for item in page.items]

    def page(self, query: ExecutionFilter, cursor: str | None) -> Page:
        with self._db.read() as cur:
            where = execution_filter(self._reads.where(), query)
            return self._reads.fetch_page(cur, self._executions, where, query.limit, cursor)


class SQLApprovalStore:
    """Held actions and their decisions; see ``opscope.react.ports.ApprovalStore``."""

    def __init__(self, db: SQLDatabase[Any], reads: ReactionReads) -> None:
        self._db = db
        self._reads = reads

    def put(self, request: ApprovalRequest) -> None:
        with self._db.write() as con:
            con.execute(
                self._reads.approval_upsert,
                [request.id, request.state.value, to_naive_utc(request.requested_at),
                 dump_record(request, self._reads.dump)],
            )

    def get(self, approval_id: str) -> ApprovalRequest | None:
        with self._db.read() as cur:
            row = self._db.first_row(cur, self._reads.approval_by_id, [approval_id])
        return self._reads.approval(row[0]) if row else None

    def list(self, state: ApprovalState | None = None) -> list[ApprovalRequest]:
        """Oldest request first."""
        where = self._reads.where()
        if state is not None:
            where.equals("state", state.value)
        with self._db.read() as cur:
            rows = cur.execute(
                f"SELECT doc FROM react_approvals{where.sql()} ORDER BY requested_at, id",
                where.params).fetchall()
        return [self._reads.approval(r[0]) for r in rows]


class SQLNotificationLog(ABC):
    """Delivery keys claimed before and marked after delivery; see
    ``opscope.react.ports.NotificationLog``. A backend adds :meth:`claim`, the
    insert-if-absent the port requires, in whatever form its concurrency allows."""

    def __init__(self, db: SQLDatabase[Any], reads: ReactionReads) -> None:
        self._db = db
        self._reads = reads

    @abstractmethod
    def claim(self, key: str, at: datetime) -> NotificationEntry | None:
        """Claim ``key`` for delivery: None if this caller now owns it, else the entry
        that already holds it."""

    def complete(self, key: str, at: datetime, detail: dict[str, Any]) -> None:
        with self._db.write() as con:
            row = self._db.first_row(con, self._reads.notification_locked, [key])
            claimed = self._reads.notification(row[0]).claimed_at if row else at
            entry = NotificationEntry(key=key, state=DeliveryState.SENT, claimed_at=claimed,
                                      sent_at=at, detail=detail)
            self._upsert(con, entry)

    def release(self, key: str) -> None:
        with self._db.write() as con:
            con.execute(self._reads.notification_release, [key, DeliveryState.SENDING.value])

    def get(self, key: str) -> NotificationEntry | None:
        with self._db.read() as cur:
            row = self._db.first_row(cur, self._reads.notification_by_key, [key])
        return self._reads.notification(row[0]) if row else None

    def put(self, entry: NotificationEntry) -> None:
        with self._db.write() as con:
            self._upsert(con, entry)

    def _upsert(self, con: Any, entry: NotificationEntry) -> None:
        con.execute(self._reads.notification_upsert,
                    [entry.key, entry.state.value, dump_record(entry, self._reads.dump)])


class SQLActionState:
    """Small JSON values by key; see ``opscope.react.ports.ActionState``."""

    def __init__(self, db: SQLDatabase[Any], reads: ReactionReads,
                 clock: Callable[[], datetime]) -> None:
        self._db = db
        self._reads = reads
        self._clock = clock

    def load(self, key: str) -> dict[str, Any] | None:
        with self._db.read() as cur:
            row = self._db.first_row(cur, self._reads.state_by_key, [key])
        if row is None:
            return None
        value = self._reads.document(row[0])
        return value if isinstance(value, dict) else None

    def save(self, key: str, value: dict[str, Any]) -> None:
        with self._db.write() as con:
            con.execute(self._reads.state_upsert,
                        [key, self._reads.dump(value), to_naive_utc(self._clock())])


RecordAction = Callable[[Any, str, str, Sequence[str], datetime, dict[str, Any]], None]
"""A backend's ``incidents.record_action(db, action, actor, incident_ids, at, detail)``."""


class IncidentNotes:
    """Notes on incidents (``opscope.react.ports.IncidentAnnotator``), kept with the
    incident's operator actions as action ``note``: the incident view lists them in order
    with who wrote them, next to acknowledgements and merges."""

    def __init__(self, db: Any, record_action: RecordAction) -> None:
        self._db = db
        self._record = record_action

    def annotate(self, incident_id: str, text: str, author: str, at: datetime) -> str:
        note_id = "note-" + uuid.uuid4().hex[:16]
        self._record(self._db, "note", author, [incident_id], at,
                     {"id": note_id, "text": text})
        return note_id


@dataclass(frozen=True)
class ReactionTables:
    """The durable reaction adapters of one store (a backend's ``open_tables`` builds
    them): what the reaction engine's ports need to survive a restart."""

    audit: SQLAuditLog
    approvals: SQLApprovalStore
    notifications: SQLNotificationLog
    state: SQLActionState
    annotator: IncidentNotes
