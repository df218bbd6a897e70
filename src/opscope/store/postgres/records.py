"""Tickets (upserted by id) and changes (appended), and the query shape they share
with anomalies. The tables' ``RecordTable`` descriptions (columns, filters, row shapes)
are shared (``opscope.store.sql.records``); only the statements differ."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from opscope.model import Change, Ticket
from opscope.store.duckdb.records import CHANGES, TICKETS, RecordTable, change_id
from opscope.store.ports import Page, RecordQuery, WriteResult
from opscope.store.postgres.codec import clean, labels_json, naive
from opscope.store.postgres.database import Connection, Database, count, unnest
from opscope.store.postgres.paging import fetch_page
from opscope.store.postgres.where import Where
from opscope.store.sql.records import record_filter

__all__ = ["CHANGES", "TICKETS", "append_changes", "query_records", "upsert_tickets"]


def query_records(db: Database, table: RecordTable, query: RecordQuery) -> Page:
    where = record_filter(Where(), table, query)
    with db.read() as cur:
        return fetch_page(cur, table.page, where, query.limit, query.cursor)


def existing_ids(con: Connection, table: str, ids: list[str]) -> set[str]:
    rows = con.execute(f"SELECT id FROM {table} WHERE id = ANY(%s::text[])", [ids]).fetchall()
    return {r[0] for r in rows}


_TICKETS = (
    ("id", "text"), ("title", "text"), ("description", "text"), ("status", "text"),
    ("priority", "text"), ("entity", "text"), ("created_at", "timestamp"),
    ("resolved_at", "timestamp"), ("resolution", "text"), ("labels", "text"),
    ("updated_at", "timestamp"),
)
_TICKET_NAMES = ", ".join(n for n, _ in _TICKETS)
_UPSERT_TICKETS = (
    f"INSERT INTO tickets SELECT {_TICKET_NAMES.replace('labels', 'labels::jsonb')} "
    f"FROM {unnest(*_TICKETS)} ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n, _ in _TICKETS[1:])
)


def upsert_tickets(db: Database, tickets: Sequence[Ticket], now: datetime) -> WriteResult:
    if not tickets:
        return WriteResult()
    latest = {t.id: t for t in tickets}  # the last version of an id in the batch wins
    batch = list(latest.values())
    arrays = [
        [t.id for t in batch], [clean(t.title) for t in batch],
        [clean(t.description) for t in batch], [t.status for t in batch],
        [t.priority for t in batch], [clean(t.entity) for t in batch],
        naive(t.created_at for t in batch), naive(t.resolved_at for t in batch),
        [clean(t.resolution) for t in batch], labels_json(t.labels for t in batch),
        naive([now] * len(batch)),
    ]
    with db.write() as con:
        found = existing_ids(con, "tickets", list(latest))
        con.execute(_UPSERT_TICKETS, arrays)
    return WriteResult(inserted=len(batch) - len(found), updated=len(found))


_CHANGES = (
    ("id", "text"), ("entity", "text"), ("kind", "text"), ("version", "text"),
    ("author", "text"), ("ts", "timestamp"), ("description", "text"), ("labels", "text"),
    ("received_at", "timestamp"),
)
_APPEND_CHANGES = (
    "INSERT INTO changes SELECT "
    + ", ".join(n for n, _ in _CHANGES).replace("labels", "labels::jsonb")
    + f" FROM {unnest(*_CHANGES)} ON CONFLICT DO NOTHING"
)


def append_changes(db: Database, changes: Sequence[Change], now: datetime) -> WriteResult:
    """Append; a change whose id is already stored is skipped (idempotent retries)."""
    if not changes:
        return WriteResult()
    batch = {change_id(c): c for c in changes}
    rows = list(batch.values())
    arrays = [
        list(batch), [clean(c.entity) for c in rows], [clean(c.kind) for c in rows],
        [clean(c.version) for c in rows], [clean(c.author) for c in rows],
        naive(c.ts for c in rows), [clean(c.description) for c in rows],
        labels_json(c.labels for c in rows), naive([now] * len(rows)),
    ]
    with db.write() as con:
        inserted = count(con, _APPEND_CHANGES, arrays)
    return WriteResult(inserted=inserted)
