"""Events (alerts): upsert by ``(source, fingerprint)``, the notification history, queries.

A batch is one transaction, as in the embedded store: the stored states of the
identities it names are read, every notification is folded in arrival order
(``opscope.store.sql.lifecycle``, shared), then the touched events are upserted and
every notification appended to ``event_history``, each in one statement over arrays.

Unlike the embedded store's writer, nothing is remembered between batches: another
process may write the same events, so the states are read (one indexed query) every
time, under an advisory lock that serialises event writers across processes (a fold
must not be based on a state another writer is replacing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from opscope.model import Event
from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.ports import Row, WriteResult
from opscope.store.postgres.codec import clean, labels_json, naive
from opscope.store.postgres.database import Connection, Database, unnest
from opscope.store.postgres.paging import fetch_page
from opscope.store.postgres.where import Where
from opscope.store.sql.events import COLUMNS, SELECT, EventReads, event_row, event_states
from opscope.store.sql.lifecycle import EventState, apply, new_state

_STATE = (
    ("source", "text"), ("fingerprint", "text"), ("name", "text"), ("status", "text"),
    ("severity", "text"), ("entity", "text"), ("summary", "text"), ("labels", "text"),
    ("annotations", "text"), ("starts_at", "timestamp"), ("ends_at", "timestamp"),
    ("first_seen", "timestamp"), ("last_seen", "timestamp"), ("repeat_count", "int"),
    ("reopen_count", "int"),
)
_STATE_NAMES = ", ".join(n for n, _ in _STATE)
_STATE_VALUES = _STATE_NAMES.replace("labels, annotations",
                                     "labels::jsonb, annotations::jsonb")
_UPSERT = (
    f"INSERT INTO events ({_STATE_NAMES}) SELECT {_STATE_VALUES} FROM {unnest(*_STATE)} "
    "ON CONFLICT (source, fingerprint) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n, _ in _STATE[2:])
)
_HISTORY = (*_STATE[:11], ("received_at", "timestamp"))
_HISTORY_NAMES = ", ".join(n for n, _ in _HISTORY)
_APPEND_HISTORY = (
    f"INSERT INTO event_history ({_HISTORY_NAMES}) SELECT "
    f"{_HISTORY_NAMES.replace('labels, annotations', 'labels::jsonb, annotations::jsonb')} "
    f"FROM {unnest(*_HISTORY)}"
)


def _load(con: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], EventState]:
    rows = con.execute(
        f"SELECT {COLUMNS} FROM events WHERE (source, fingerprint) IN "
        "(SELECT * FROM unnest(%s::text[], %s::text[]))",
        [[k[0] for k in keys], [k[1] for k in keys]],
    ).fetchall()
    return event_states(rows)


def _state_arrays(states: Sequence[EventState]) -> list[list[Any]]:
    return [
        [clean(s.source) for s in states], [clean(s.fingerprint) for s in states],
        [clean(s.name) for s in states], [s.status for s in states],
        [s.severity for s in states], [clean(s.entity) for s in states],
        [clean(s.summary) for s in states], labels_json(s.labels for s in states),
        labels_json(s.annotations for s in states), naive(s.starts_at for s in states),
        naive(s.ends_at for s in states), naive(s.first_seen for s in states),
        naive(s.last_seen for s in states), [s.repeat_count for s in states],
        [s.reopen_count for s in states],
    ]


def _history_arrays(events: Sequence[Event], now: datetime) -> list[list[Any]]:
    return [
        [clean(e.source) for e in events], [clean(e.fingerprint) for e in events],
        [clean(e.name) for e in events], [e.status.value for e in events],
        [e.severity.value for e in events], [clean(e.entity) for e in events],
        [clean(e.summary) for e in events], labels_json(e.labels for e in events),
        labels_json(e.annotations for e in events), naive(e.starts_at for e in events),
        naive(e.ends_at for e in events),
        [to_naive_utc(e.received_at or now) for e in events],
    ]


class EventWriter:
    """Upserts events (see the module: every batch reads the states it folds into)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(self, events: Sequence[Event], now: datetime) -> WriteResult:
        if not events:
            return WriteResult()
        # An identity as it is stored (cleaned), so that it finds its stored state.
        event_keys = [(clean(e.source), clean(e.fingerprint)) for e in events]
        keys = list(dict.fromkeys(event_keys))
        history = _history_arrays(events, now)
        with self._db.write() as con:
            self._db.lock(con, "events")
            states = _load(con, keys)
            existing = len(states)
            inserted = 0
            for event, key in zip(events, event_keys, strict=True):
                received = event.received_at or now
                state = states.get(key)
                if state is None:
                    states[key] = new_state(event, received)
                    inserted += 1
                else:
                    apply(state, event, received)
            con.execute(_UPSERT, _state_arrays([states[k] for k in keys]))
            con.execute(_APPEND_HISTORY, history)
        return WriteResult(inserted=inserted, updated=existing)


# The labels as the embedded store's text search sees them (DuckDB's MAP as text,
# ``{env=prod, team=payments}``), so that a search for ``env=prod`` finds the same events.
# Pairs come in JSONB's key order, which may differ from the order the labels came in.
_LABELS_TEXT = (
    "(SELECT '{' || coalesce(string_agg(key || '=' || value, ', '), '') || '}' "
    "FROM jsonb_each_text(labels))"
)
_READS = EventReads(where=Where, fetch_page=fetch_page, labels_text=_LABELS_TEXT)
query_events = _READS.query_events
event_history = _READS.event_history


def get_event(db: Database, source: str, fingerprint: str) -> Row | None:
    with db.read() as con, con.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"{SELECT} WHERE source = %s AND fingerprint = %s",
                          [source, fingerprint]).fetchone()
    return event_row(row) if row else None
