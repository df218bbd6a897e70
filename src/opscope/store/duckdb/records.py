"""Tickets (upserted by id) and changes (appended), and the query shape they share
with anomalies: ``RecordQuery`` mapped onto a table by a ``RecordTable``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from opscope.model import Change, Ticket
from opscope.store.duckdb.codec import TS, as_labels, iso, label_array
from opscope.store.duckdb.database import Database
from opscope.store.duckdb.paging import PageSpec, fetch_page
from opscope.store.duckdb.where import Where
from opscope.store.ports import Page, RecordQuery, Row, WriteResult
from opscope.store.sql.records import RecordTable as RecordTable
from opscope.store.sql.records import record_filter


def query_records(db: Database, table: RecordTable, query: RecordQuery) -> Page:
    where = record_filter(Where(), table, query)
    with db.read() as cur:
        return fetch_page(cur, table.page, where, query.limit, query.cursor)


def existing_ids(con: duckdb.DuckDBPyConnection, table: str, ids: list[str]) -> set[str]:
    rows = con.execute(
        f"SELECT id FROM {table} WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
    ).fetchall()
    return {r[0] for r in rows}


def derived_id(*parts: str) -> str:
    """A stable id for a record sent without one: the same record always gets the same id,
    so a retried batch does not store it twice."""
    digest = hashlib.blake2b(digest_size=12)
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


# --- tickets -------------------------------------------------------------------------

_TICKET_COLUMNS = (
    "id", "title", "description", "status", "priority", "entity", "created_at",
    "resolved_at", "resolution", "labels", "updated_at",
)


def upsert_tickets(db: Database, tickets: Sequence[Ticket], now: datetime) -> WriteResult:
    if not tickets:
        return WriteResult()
    latest = {t.id: t for t in tickets}  # the last version of an id in the batch wins
    batch = list(latest.values())
    table = pa.table({
        "id": pa.array([t.id for t in batch], type=pa.string()),
        "title": pa.array([t.title for t in batch], type=pa.string()),
        "description": pa.array([t.description for t in batch], type=pa.string()),
        "status": pa.array([t.status for t in batch], type=pa.string()),
        "priority": pa.array([t.priority for t in batch], type=pa.string()),
        "entity": pa.array([t.entity for t in batch], type=pa.string()),
        "created_at": pa.array([t.created_at for t in batch], type=TS),
        "resolved_at": pa.array([t.resolved_at for t in batch], type=TS),
        "resolution": pa.array([t.resolution for t in batch], type=pa.string()),
        "labels": label_array(t.labels for t in batch),
        "updated_at": pa.array([now] * len(batch), type=TS),
    })
    updates = ", ".join(f"{c} = excluded.{c}" for c in _TICKET_COLUMNS[1:])
    with db.write() as con:
        found = existing_ids(con, "tickets", list(latest))
        db.insert_arrow(
            con,
            f"INSERT INTO tickets SELECT {', '.join(_TICKET_COLUMNS)} FROM batch "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            table,
        )
    return WriteResult(inserted=len(batch) - len(found), updated=len(found))


def _ticket_row(r: dict[str, Any]) -> Row:
    return {
        "id": r["id"], "title": r["title"], "description": r["description"],
        "status": r["status"], "priority": r["priority"], "entity": r["entity"],
        "created_at": iso(r["created_at"]), "resolved_at": iso(r["resolved_at"]),
        "resolution": r["resolution"], "labels": as_labels(r["labels"]),
        "updated_at": iso(r["updated_at"]),
    }


TICKETS = RecordTable(
    page=PageSpec("tickets", f"SELECT {', '.join(_TICKET_COLUMNS)} FROM tickets",
                  "created_at", "id", str, _ticket_row),
    kind_column="status",
    text_columns=("title", "description", "resolution"),
    extra={"status": "status", "priority": "priority"},
)


# --- changes -------------------------------------------------------------------------

_CHANGE_COLUMNS = (
    "id", "entity", "kind", "version", "author", "ts", "description", "labels", "received_at",
)


def change_id(change: Change) -> str:
    return change.id or derived_id(
        change.entity, change.kind, change.version, change.ts.isoformat()
    )


def append_changes(db: Database, changes: Sequence[Change], now: datetime) -> WriteResult:
    """Append; a change whose id is already stored is skipped (idempotent retries)."""
    if not changes:
        return WriteResult()
    batch = {change_id(c): c for c in changes}
    rows = list(batch.values())
    table = pa.table({
        "id": pa.array(list(batch), type=pa.string()),
        "entity": pa.array([c.entity for c in rows], type=pa.string()),
        "kind": pa.array([c.kind for c in rows], type=pa.string()),
        "version": pa.array([c.version for c in rows], type=pa.string()),
        "author": pa.array([c.author for c in rows], type=pa.string()),
        "ts": pa.array([c.ts for c in rows], type=TS),
        "description": pa.array([c.description for c in rows], type=pa.string()),
        "labels": label_array(c.labels for c in rows),
        "received_at": pa.array([now] * len(rows), type=TS),
    })
    with db.write() as con:
        count = db.insert_arrow(
            con,
            f"INSERT INTO changes SELECT {', '.join(_CHANGE_COLUMNS)} FROM batch "
            "ON CONFLICT DO NOTHING",
            table,
        )
    return WriteResult(inserted=count)


def _change_row(r: dict[str, Any]) -> Row:
    return {
        "id": r["id"], "entity": r["entity"], "kind": r["kind"], "version": r["version"],
        "author": r["author"], "ts": iso(r["ts"]), "description": r["description"],
        "labels": as_labels(r["labels"]), "received_at": iso(r["received_at"]),
    }


CHANGES = RecordTable(
    page=PageSpec("changes", f"SELECT {', '.join(_CHANGE_COLUMNS)} FROM changes",
                  "ts", "id", str, _change_row),
    kind_column="kind",
    text_columns=("description", "version", "author"),
    extra={"version": "version", "author": "author"},
)
