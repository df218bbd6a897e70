"""Automated reactions in the embedded store: audit, approvals, notification log, state.

Four small adapters over one :class:`Database`, each shaped like the reaction engine's
port of the same name (``opscope.react.ports``: ``AuditLog``, ``ApprovalStore``,
``NotificationLog``, ``ActionState``), so that what the engine did survives a restart:

* the audit keeps every execution, queried newest first with filters and cursor paging;
* the notification log's ``claim`` is an insert-if-absent under the write lock, so an
  engine and its restarted self never both deliver one key;
* approvals and action state (e.g. the Slack message an incident is posted as) are kept
  as their last value.

Records are stored as JSON documents next to the columns that are filtered on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import duckdb
import orjson

from opscope.model.execution import (
    ApprovalRequest,
    ApprovalState,
    DeliveryState,
    Execution,
    ExecutionStatus,
    NotificationEntry,
)
from opscope.store.duckdb import incidents as _incidents
from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.duckdb.database import Database, first_row
from opscope.store.duckdb.paging import PageSpec, fetch_page
from opscope.store.duckdb.where import Where, invalid
from opscope.store.ports import ExecutionQuery, Page, Row

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


def _dump(record: Any) -> str:
    return orjson.dumps(record.model_dump(mode="json")).decode()


def _where(query: ExecutionFilter) -> Where:
    where = Where()
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


def _execution_row(raw: dict[str, Any]) -> Row:
    row: Row = orjson.loads(raw["doc"])
    return row


_EXECUTIONS = PageSpec(
    "executions", "SELECT seq, started_at, doc FROM react_executions", "started_at", "seq",
    int, _execution_row,
)


class DuckDBAuditLog:
    """Every execution of an action, kept; see ``opscope.react.ports.AuditLog``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, execution: Execution) -> None:
        with self._db.write() as con:
            seq = self._db.allocate(con, "react_executions", 1)
            con.execute(
                "INSERT INTO react_executions VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc",
                [seq, execution.id, execution.rule, execution.action, execution.status.value,
                 execution.subject, to_naive_utc(execution.started_at), _dump(execution)],
            )

    def get(self, execution_id: str) -> Execution | None:
        with self._db.read() as cur:
            row = first_row(cur, "SELECT doc FROM react_executions WHERE id = ?", [execution_id])
        return Execution.model_validate_json(row[0]) if row else None

    def query(self, query: ExecutionFilter) -> list[Execution]:
        """Newest first, at most ``query.limit``."""
        page = self.page(query, None)
        return [Execution.model_validate(item) for item in page.items]

    def page(self, query: ExecutionFilter, cursor: str | None) -> Page:
        with self._db.read() as cur:
            return fetch_page(cur, _EXECUTIONS, _where(query), query.limit, cursor)


class DuckDBApprovalStore:
    """Held actions and their decisions; see ``opscope.react.ports.ApprovalStore``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, request: ApprovalRequest) -> None:
        with self._db.write() as con:
            con.execute(
                "INSERT INTO react_approvals VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                "SET state = excluded.state, doc = excluded.doc",
                [request.id, request.state.value, to_naive_utc(request.requested_at),
                 _dump(request)],
            )

    def get(self, approval_id: str) -> ApprovalRequest | None:
        with self._db.read() as cur:
            row = first_row(cur, "SELECT doc FROM react_approvals WHERE id = ?", [approval_id])
        return ApprovalRequest.model_validate_json(row[0]) if row else None

    def list(self, state: ApprovalState | None = None) -> list[ApprovalRequest]:
        """Oldest request first."""
        sql = "SELECT doc FROM react_approvals"
        params: list[Any] = []
        if state is not None:
            sql += " WHERE state = ?"
            params.append(state.value)
        with self._db.read() as cur:
            rows = cur.execute(sql + " ORDER BY requested_at, id", params).fetchall()
        return [ApprovalRequest.model_validate_json(r[0]) for r in rows]


class DuckDBNotificationLog:
    """Delivery keys claimed before and marked after delivery; see
    ``opscope.react.ports.NotificationLog``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(self, key: str, at: datetime) -> NotificationEntry | None:
        # Check and insert in one transaction under the store's single write lock: the
        # insert-if-absent the port requires.
        entry = NotificationEntry(key=key, state=DeliveryState.SENDING, claimed_at=at)
        with self._db.write() as con:
            row = first_row(con, "SELECT doc FROM react_notifications WHERE key = ?", [key])
            if row is not None:
                return NotificationEntry.model_validate_json(row[0])
            con.execute("INSERT INTO react_notifications VALUES (?, ?, ?)",
                        [key, entry.state.value, _dump(entry)])
        return None

    def complete(self, key: str, at: datetime, detail: dict[str, Any]) -> None:
        with self._db.write() as con:
            row = first_row(con, "SELECT doc FROM react_notifications WHERE key = ?", [key])
            claimed = NotificationEntry.model_validate_json(row[0]).claimed_at if row else at
            entry = NotificationEntry(key=key, state=DeliveryState.SENT, claimed_at=claimed,
                                      sent_at=at, detail=detail)
            self._upsert(con, entry)

    def release(self, key: str) -> None:
        with self._db.write() as con:
            con.execute("DELETE FROM react_notifications WHERE key = ? AND state = ?",
                        [key, DeliveryState.SENDING.value])

    def get(self, key: str) -> NotificationEntry | None:
        with self._db.read() as cur:
            row = first_row(cur, "SELECT doc FROM react_notifications WHERE key = ?", [key])
        return NotificationEntry.model_validate_json(row[0]) if row else None

    def put(self, entry: NotificationEntry) -> None:
        with self._db.write() as con:
            self._upsert(con, entry)

    @staticmethod
    def _upsert(con: duckdb.DuckDBPyConnection, entry: NotificationEntry) -> None:
        con.execute(
            "INSERT INTO react_notifications VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
            "SET state = excluded.state, doc = excluded.doc",
            [entry.key, entry.state.value, _dump(entry)],
        )


class DuckDBActionState:
    """Small JSON values by key; see ``opscope.react.ports.ActionState``."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    def load(self, key: str) -> dict[str, Any] | None:
        with self._db.read() as cur:
            row = first_row(cur, "SELECT value FROM react_action_state WHERE key = ?", [key])
        if row is None:
            return None
        value = orjson.loads(row[0])
        return value if isinstance(value, dict) else None

    def save(self, key: str, value: dict[str, Any]) -> None:
        with self._db.write() as con:
            con.execute(
                "INSERT INTO react_action_state VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value, updated_at = excluded.updated_at",
                [key, orjson.dumps(value).decode(), to_naive_utc(self._clock())],
            )


class DuckDBIncidentAnnotator:
    """Notes on incidents (``opscope.react.ports.IncidentAnnotator``), kept with the
    incident's operator actions as action ``note``: the incident view lists them in
    order with who wrote them, next to acknowledgements and merges."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def annotate(self, incident_id: str, text: str, author: str, at: datetime) -> str:
        note_id = "note-" + uuid.uuid4().hex[:16]
        _incidents.record_action(self._db, "note", author, [incident_id], at,
                                 {"id": note_id, "text": text})
        return note_id


@dataclass(frozen=True)
class ReactionTables:
    """The four durable reaction adapters of one store."""

    audit: DuckDBAuditLog
    approvals: DuckDBApprovalStore
    notifications: DuckDBNotificationLog
    state: DuckDBActionState
    annotator: DuckDBIncidentAnnotator

    @classmethod
    def open(cls, db: Database, clock: Callable[[], datetime]) -> ReactionTables:
        return cls(DuckDBAuditLog(db), DuckDBApprovalStore(db), DuckDBNotificationLog(db),
                   DuckDBActionState(db, clock), DuckDBIncidentAnnotator(db))


def query_executions(tables: ReactionTables, query: ExecutionQuery) -> Page:
    return tables.audit.page(query, query.cursor)
