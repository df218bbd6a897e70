"""Automated reactions in PostgreSQL: audit, approvals, notification log, action state.

The embedded store's four adapters (``opscope.store.duckdb.reactions``) over a
PostgreSQL :class:`Database`, with the same behaviour. The notification log's
``claim`` is an ``INSERT ... ON CONFLICT DO NOTHING``: whichever engine's insert lands
first owns the key, even when the engines run in different processes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from opscope.model.execution import (
    ApprovalRequest,
    DeliveryState,
    Execution,
    NotificationEntry,
)
from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.postgres import incidents as _incidents
from opscope.store.postgres.codec import clean, dump_json
from opscope.store.postgres.database import Database, first_row
from opscope.store.postgres.paging import fetch_page
from opscope.store.postgres.where import Where
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


def _parsed(value: Any) -> Any:
    # psycopg has already parsed JSONB (with orjson, see ``database``).
    return value


_NOTIFICATION_BY_KEY = "SELECT doc FROM react_notifications WHERE key = %s"
_READS = ReactionReads(
    where=Where,
    fetch_page=fetch_page,
    document=_parsed,
    execution=Execution.model_validate,
    approval=ApprovalRequest.model_validate,
    notification=NotificationEntry.model_validate,
    execution_by_id="SELECT doc FROM react_executions WHERE id = %s",
    approval_by_id="SELECT doc FROM react_approvals WHERE id = %s",
    approval_upsert="INSERT INTO react_approvals VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (id) "
                    "DO UPDATE SET state = excluded.state, doc = excluded.doc",
    notification_by_key=_NOTIFICATION_BY_KEY,
    notification_locked=_NOTIFICATION_BY_KEY + " FOR UPDATE",
    notification_upsert="INSERT INTO react_notifications VALUES (%s, %s, %s::jsonb) "
                        "ON CONFLICT (key) DO UPDATE SET state = excluded.state, "
                        "doc = excluded.doc",
    notification_release="DELETE FROM react_notifications WHERE key = %s AND state = %s",
    state_by_key="SELECT value FROM react_action_state WHERE key = %s",
    state_upsert="INSERT INTO react_action_state VALUES (%s, %s::jsonb, %s) ON CONFLICT (key) "
                 "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    dump=dump_json,
)


class PostgresAuditLog(SQLAuditLog):
    """Every execution of an action, kept; see ``opscope.react.ports.AuditLog``."""

    _db: Database

    def __init__(self, db: Database) -> None:
        super().__init__(db, _READS)

    def record(self, execution: Execution) -> None:
        with self._db.write() as con:
            con.execute(
                "INSERT INTO react_executions (id, rule, action, status, subject, started_at, "
                "doc) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc",
                [execution.id, clean(execution.rule), clean(execution.action),
                 execution.status.value, clean(execution.subject),
                 to_naive_utc(execution.started_at), dump_record(execution, dump_json)],
            )


class PostgresNotificationLog(SQLNotificationLog):
    """Delivery keys claimed before and marked after delivery; see
    ``opscope.react.ports.NotificationLog``."""

    _db: Database

    def __init__(self, db: Database) -> None:
        super().__init__(db, _READS)

    def claim(self, key: str, at: datetime) -> NotificationEntry | None:
        entry = NotificationEntry(key=key, state=DeliveryState.SENDING, claimed_at=at)
        with self._db.write() as con:
            claimed = first_row(
                con, "INSERT INTO react_notifications VALUES (%s, %s, %s::jsonb) "
                "ON CONFLICT (key) DO NOTHING RETURNING key",
                [key, entry.state.value, dump_record(entry, dump_json)])
            if claimed is not None:
                return None
            row = first_row(con, _NOTIFICATION_BY_KEY, [key])
        # The row that won can only have gone if it was released since: claim again.
        return NotificationEntry.model_validate(row[0]) if row else self.claim(key, at)


def open_tables(db: Database, clock: Callable[[], datetime]) -> ReactionTables:
    """The store's reaction adapters over ``db``."""
    return ReactionTables(PostgresAuditLog(db), SQLApprovalStore(db, _READS),
                          PostgresNotificationLog(db), SQLActionState(db, _READS, clock),
                          IncidentNotes(db, _incidents.record_action))
