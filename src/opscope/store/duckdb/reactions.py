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

from collections.abc import Callable
from datetime import datetime

import orjson

from opscope.model.execution import (
    ApprovalRequest,
    DeliveryState,
    Execution,
    NotificationEntry,
)
from opscope.store.duckdb import incidents as _incidents
from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.duckdb.database import Database, first_row
from opscope.store.duckdb.paging import fetch_page
from opscope.store.duckdb.where import Where
from opscope.store.sql.reactions import STATUSES as STATUSES
from opscope.store.sql.reactions import (
    IncidentNotes,
    ReactionReads,
    ReactionTables,
    SQLActionState,
    SQLApprovalStore,
    SQLAuditLog,
    SQLNotificationLog,
    dump_record,
)

_NOTIFICATION_BY_KEY = "SELECT doc FROM react_notifications WHERE key = ?"
_READS = ReactionReads(
    where=Where,
    fetch_page=fetch_page,
    document=orjson.loads,
    execution=Execution.model_validate_json,
    approval=ApprovalRequest.model_validate_json,
    notification=NotificationEntry.model_validate_json,
    execution_by_id="SELECT doc FROM react_executions WHERE id = ?",
    approval_by_id="SELECT doc FROM react_approvals WHERE id = ?",
    approval_upsert="INSERT INTO react_approvals VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                    "SET state = excluded.state, doc = excluded.doc",
    notification_by_key=_NOTIFICATION_BY_KEY,
    # Writes already run one at a time under the store's write lock.
    notification_locked=_NOTIFICATION_BY_KEY,
    notification_upsert="INSERT INTO react_notifications VALUES (?, ?, ?) ON CONFLICT (key) "
                        "DO UPDATE SET state = excluded.state, doc = excluded.doc",
    notification_release="DELETE FROM react_notifications WHERE key = ? AND state = ?",
    state_by_key="SELECT value FROM react_action_state WHERE key = ?",
    state_upsert="INSERT INTO react_action_state VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                 "SET value = excluded.value, updated_at = excluded.updated_at",
)


class DuckDBAuditLog(SQLAuditLog):
    """Every execution of an action, kept; see ``opscope.react.ports.AuditLog``."""

    _db: Database

    def __init__(self, db: Database) -> None:
        super().__init__(db, _READS)

    def record(self, execution: Execution) -> None:
        with self._db.write() as con:
            seq = self._db.allocate(con, "react_executions", 1)
            con.execute(
                "INSERT INTO react_executions VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc",
                [seq, execution.id, execution.rule, execution.action, execution.status.value,
                 execution.subject, to_naive_utc(execution.started_at), dump_record(execution)],
            )


class DuckDBNotificationLog(SQLNotificationLog):
    """Delivery keys claimed before and marked after delivery; see
    ``opscope.react.ports.NotificationLog``."""

    _db: Database

    def __init__(self, db: Database) -> None:
        super().__init__(db, _READS)

    def claim(self, key: str, at: datetime) -> NotificationEntry | None:
        # Check and insert in one transaction under the store's single write lock: the
        # insert-if-absent the port requires.
        entry = NotificationEntry(key=key, state=DeliveryState.SENDING, claimed_at=at)
        with self._db.write() as con:
            row = first_row(con, _NOTIFICATION_BY_KEY, [key])
            if row is not None:
                return NotificationEntry.model_validate_json(row[0])
            con.execute("INSERT INTO react_notifications VALUES (?, ?, ?)",
                        [key, entry.state.value, dump_record(entry)])
        return None


def open_tables(db: Database, clock: Callable[[], datetime]) -> ReactionTables:
    """The store's reaction adapters over ``db``."""
    return ReactionTables(DuckDBAuditLog(db), SQLApprovalStore(db, _READS),
                          DuckDBNotificationLog(db), SQLActionState(db, _READS, clock),
                          IncidentNotes(db, _incidents.record_action))
