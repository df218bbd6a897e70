"""Events (alerts): upsert by ``(source, fingerprint)``, the notification history, queries.

A batch is written in one transaction: the stored states of the identities it names are
gathered, every notification is folded in arrival order (``lifecycle.py``, so
duplicates inside the batch collapse before DuckDB sees them: ``ON CONFLICT`` cannot
update one row twice in a statement), then the touched events are upserted and every
notification appended to ``event_history``, each as one Arrow batch.

Gathering the stored states is what a read of the table would cost per batch, so
:class:`EventWriter` remembers: the identities of all stored events (as hashes, up to
``KNOWN_LIMIT``; a notification of any other identity is a new event, with nothing to
read) and the states of the most recently written ones (``STATE_LIMIT``; a repeat of one
of them folds without a read). Only what is in neither is read, in one query. The
writer is the table's only writer; retention tells it when rows went (``forget``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from opscope.model import Event
from opscope.store.duckdb.codec import TS, label_array
from opscope.store.duckdb.database import Database, count
from opscope.store.duckdb.paging import fetch_page
from opscope.store.duckdb.where import Where
from opscope.store.ports import Row, WriteResult
from opscope.store.sql.events import (
    COLUMNS,
    HISTORY_COLUMNS,
    SELECT,
    EventReads,
    event_row,
    event_states,
)
from opscope.store.sql.lifecycle import EventState, apply, new_state

_UPDATED = [c.strip() for c in COLUMNS.split(",")][3:]  # all but seq and the identity

_UPSERT = (
    f"INSERT INTO events SELECT {COLUMNS} FROM batch "
    "ON CONFLICT (source, fingerprint) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED)
)



def _load(con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str]]) -> dict[
    tuple[str, str], EventState
]:
    wanted = pa.table({"source": [k[0] for k in keys], "fingerprint": [k[1] for k in keys]})
    con.register("wanted", wanted)
    try:
        rows = con.execute(
            f"SELECT {', '.join('e.' + c.strip() for c in COLUMNS.split(','))} FROM events e "
            "JOIN wanted w ON e.source = w.source AND e.fingerprint = w.fingerprint"
        ).fetchall()
    finally:
        con.unregister("wanted")
    return event_states(rows)


def _state_table(states: Sequence[EventState]) -> pa.Table:
    cols: dict[str, list[Any]] = {c.strip(): [] for c in COLUMNS.split(",")}
    for s in states:
        cols["seq"].append(s.seq)
        cols["source"].append(s.source)
        cols["fingerprint"].append(s.fingerprint)
        cols["name"].append(s.name)
        cols["status"].append(s.status)
        cols["severity"].append(s.severity)
        cols["entity"].append(s.entity)
        cols["summary"].append(s.summary)
        cols["labels"].append(s.labels)
        cols["annotations"].append(s.annotations)
        cols["starts_at"].append(s.starts_at)
        cols["ends_at"].append(s.ends_at)
        cols["first_seen"].append(s.first_seen)
        cols["last_seen"].append(s.last_seen)
        cols["repeat_count"].append(s.repeat_count)
        cols["reopen_count"].append(s.reopen_count)
    return _table(cols, {"seq": pa.int64(), "repeat_count": pa.int32(),
                         "reopen_count": pa.int32()})


def _table(cols: dict[str, list[Any]], ints: dict[str, pa.DataType]) -> pa.Table:
    arrays = {}
    for name, values in cols.items():
        if name in ("labels", "annotations"):
            arrays[name] = label_array(values)
        elif name in ("starts_at", "ends_at", "first_seen", "last_seen", "received_at"):
            arrays[name] = pa.array(values, type=TS)
        elif name in ints:
            arrays[name] = pa.array(values, type=ints[name])
        else:
            arrays[name] = pa.array(values, type=pa.string())
    return pa.table(arrays)


def _history_table(events: Sequence[Event], now: datetime) -> pa.Table:
    """Every notification as received (all columns but ``seq``)."""
    cols: dict[str, list[Any]] = {c.strip(): [] for c in HISTORY_COLUMNS.split(",")[1:]}
    for event in events:
        cols["source"].append(event.source)
        cols["fingerprint"].append(event.fingerprint)
        cols["name"].append(event.name)
        cols["status"].append(event.status)  # StrEnums are strs to Arrow
        cols["severity"].append(event.severity)
        cols["entity"].append(event.entity)
        cols["summary"].append(event.summary)
        cols["labels"].append(event.labels)
        cols["annotations"].append(event.annotations)
        cols["starts_at"].append(event.starts_at)
        cols["ends_at"].append(event.ends_at)
        cols["received_at"].append(event.received_at or now)
    return _table(cols, {})


KNOWN_LIMIT = 500_000  # identities held as 64-bit hashes: about 30 MB at the limit
STATE_LIMIT = 20_000  # recently written events' states, about 1 KB each


class EventWriter:
    """Upserts events, remembering stored identities and recent states (see the module)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._known: set[int] | None = None
        self._complete = True  # False once the table outgrew KNOWN_LIMIT: always read
        self._states: OrderedDict[tuple[str, str], EventState] = OrderedDict()

    def forget(self) -> None:
        """Drop what is remembered; call under the write lock after deleting events."""
        self._known = None
        self._complete = True
        self._states = OrderedDict()

    def _known_keys(self, con: duckdb.DuckDBPyConnection) -> set[int] | None:
        """Hashes of the stored identities. A hash shared by chance only costs a read that
        finds nothing; a stored identity is never missing."""
        if self._known is None and self._complete:
            stored = count(con, "SELECT count(*) FROM events")
            if stored > KNOWN_LIMIT:
                self._complete = False
            else:
                rows = con.execute("SELECT source, fingerprint FROM events").fetchall()
                self._known = {hash((r[0], r[1])) for r in rows}
        return self._known

    def upsert(self, events: Sequence[Event], now: datetime) -> WriteResult:
        if not events:
            return WriteResult()
        event_keys = [(e.source, e.fingerprint) for e in events]
        keys = list(dict.fromkeys(event_keys))
        history = _history_table(events, now)  # built before the lock: it needs no stored state
        # What was folded in memory is forgotten if the batch does not commit.
        with self._db.write(on_failure=self.forget) as con:
            return self._fold_and_write(con, events, event_keys, keys, history, now)

    def _fold_and_write(self, con: duckdb.DuckDBPyConnection, events: Sequence[Event],
                        event_keys: list[tuple[str, str]], keys: list[tuple[str, str]],
                        history: pa.Table, now: datetime) -> WriteResult:
        known, remembered = self._known_keys(con), self._states
        # Folded in place: if the batch does not commit, ``upsert`` forgets them all.
        states = {k: remembered[k] for k in keys if k in remembered}
        unread = [k for k in keys if k not in states and (known is None or hash(k) in known)]
        if unread:
            states.update(_load(con, unread))
        existing = len(states)
        fresh: list[EventState] = []
        for event, key in zip(events, event_keys, strict=True):
            received = event.received_at or now
            state = states.get(key)
            if state is None:
                state = states[key] = new_state(event, received)
                fresh.append(state)
            else:
                apply(state, event, received)
        first = self._db.allocate(con, "events", len(fresh))
        for i, state in enumerate(fresh):
            state.seq = first + i
        self._db.insert_arrow(con, _UPSERT, _state_table([states[k] for k in keys]))
        start = self._db.allocate(con, "event_history", len(events))
        seq = pa.array(range(start, start + len(events)), type=pa.int64())
        self._db.insert_arrow(
            con, f"INSERT INTO event_history SELECT {HISTORY_COLUMNS} FROM batch",
            history.add_column(0, "seq", seq),
        )
        # Remembered last, inside the transaction: a failed commit forgets it all.
        if known is not None:
            known.update(hash((s.source, s.fingerprint)) for s in fresh)
            if len(known) > KNOWN_LIMIT:
                self._known, self._complete = None, False
        for key in keys:
            remembered[key] = states[key]
            remembered.move_to_end(key)
        while len(remembered) > STATE_LIMIT:
            remembered.popitem(last=False)
        return WriteResult(inserted=len(fresh), updated=existing)


_READS = EventReads(where=Where, fetch_page=fetch_page,
                    labels_text="CAST(labels AS VARCHAR)")
query_events = _READS.query_events
event_history = _READS.event_history


def get_event(db: Database, source: str, fingerprint: str) -> Row | None:
    with db.read() as cur:
        result = cur.execute(f"{SELECT} WHERE source = ? AND fingerprint = ?",
                             [source, fingerprint])
        names = [d[0] for d in result.description or ()]
        rows = result.fetchall()
        row = rows[0] if rows else None
    return event_row(dict(zip(names, row, strict=True))) if row else None
