"""Event reads both backends share: the row shapes, the filters and the paged reads.

Each backend gives :class:`EventReads` its ``WHERE`` clause, its page reader and how
its labels read as text for a search, and exports the bound methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opscope.model import Status, parse_severity
from opscope.store.ports import EventQuery, Page, Row
from opscope.store.sql.codec import as_labels, aware, iso
from opscope.store.sql.database import Con, SQLDatabase
from opscope.store.sql.lifecycle import EventState
from opscope.store.sql.paging import FetchPage, PageSpec
from opscope.store.sql.where import Where, invalid

COLUMNS = (
    "seq, source, fingerprint, name, status, severity, entity, summary, labels, annotations, "
    "starts_at, ends_at, first_seen, last_seen, repeat_count, reopen_count"
)
HISTORY_COLUMNS = (
    "seq, source, fingerprint, name, status, severity, entity, summary, labels, annotations, "
    "starts_at, ends_at, received_at"
)
SELECT = f"SELECT {COLUMNS} FROM events"


def event_states(rows: Sequence[tuple[Any, ...]]) -> dict[tuple[str, str], EventState]:
    """Stored events (rows of :data:`COLUMNS`) as the states notifications fold into,
    by identity."""
    states = {}
    for r in rows:
        state = EventState(
            seq=r[0], source=r[1], fingerprint=r[2], name=r[3], status=r[4], severity=r[5],
            entity=r[6], summary=r[7], labels=as_labels(r[8]), annotations=as_labels(r[9]),
            starts_at=aware(r[10]), ends_at=aware(r[11]) if r[11] else None,
            first_seen=aware(r[12]), last_seen=aware(r[13]), repeat_count=r[14],
            reopen_count=r[15],
        )
        states[(state.source, state.fingerprint)] = state
    return states


def event_row(r: dict[str, Any]) -> Row:
    return {
        "source": r["source"], "fingerprint": r["fingerprint"], "name": r["name"],
        "status": r["status"], "severity": r["severity"], "entity": r["entity"],
        "summary": r["summary"], "labels": as_labels(r["labels"]),
        "annotations": as_labels(r["annotations"]), "starts_at": iso(r["starts_at"]),
        "ends_at": iso(r["ends_at"]), "first_seen": iso(r["first_seen"]),
        "last_seen": iso(r["last_seen"]), "repeat_count": r["repeat_count"],
        "reopen_count": r["reopen_count"],
    }


def history_row(r: dict[str, Any]) -> Row:
    return {
        "source": r["source"], "fingerprint": r["fingerprint"], "name": r["name"],
        "status": r["status"], "severity": r["severity"], "entity": r["entity"],
        "summary": r["summary"], "labels": as_labels(r["labels"]),
        "annotations": as_labels(r["annotations"]), "starts_at": iso(r["starts_at"]),
        "ends_at": iso(r["ends_at"]), "received_at": iso(r["received_at"]),
    }


_PAGE = PageSpec("events", SELECT, "starts_at", "seq", int, event_row)
_HISTORY_PAGE = PageSpec(
    "event_history", f"SELECT {HISTORY_COLUMNS} FROM event_history", "received_at", "seq",
    int, history_row,
)


def severities(values: Sequence[str]) -> list[str]:
    try:
        return sorted({parse_severity(v).value for v in values})
    except ValueError as exc:
        raise invalid("severity", str(exc)) from None


@dataclass(frozen=True, slots=True)
class EventReads:
    """The paged event reads over one backend: ``where`` makes its empty ``WHERE``
    clause, ``fetch_page`` reads a page, ``labels_text`` is the labels column as the
    text a search looks into."""

    where: Callable[[], Where]
    fetch_page: FetchPage
    labels_text: str

    def query_events(self, db: SQLDatabase[Con], query: EventQuery) -> Page:
        where = self.where()
        where.time("starts_at", query.time)
        where.equals("entity", query.entity)
        where.equals("source", query.source)
        if query.status is not None:
            try:
                where.equals("status", Status(query.status.strip().lower()).value)
            except ValueError:
                raise invalid("status", "status must be 'firing' or 'resolved'") from None
        where.any_of("severity", severities(query.severity))
        where.text(("name", "summary", self.labels_text), query.text)
        with db.read() as cur:
            where.matchers(cur, "labels", query.labels, "labels")
            return self.fetch_page(cur, _PAGE, where, query.limit, query.cursor)

    def event_history(self, db: SQLDatabase[Con], source: str, fingerprint: str,
                      limit: int = 100, cursor: str | None = None) -> Page:
        """Every notification received for one event, newest first."""
        where = self.where()
        where.add("source = ? AND fingerprint = ?", source, fingerprint)
        with db.read() as cur:
            return self.fetch_page(cur, _HISTORY_PAGE, where, limit, cursor)
