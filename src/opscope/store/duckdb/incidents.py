"""Incidents in the embedded store: the correlation change stream, rankings, actions, silences.

The correlation engine publishes :class:`IncidentChange` records; here each one upserts
the incident snapshot and the members it carries, deletes members split away, and
appends its timeline. Root-cause rankings replace the incident's previous ranking.
Operator actions (ack, resolve, merge, split) are kept as an audit trail. The same
module answers what root-cause ranking reads around an incident (series of entities,
changes, anomalies, topology), returning model objects and plain columns so that the
analysis layer needs nothing from the store package.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import Feedback, IncidentChange, Silence
from opscope.store.duckdb.codec import TS, to_naive_utc
from opscope.store.duckdb.database import Database, first_row
from opscope.store.duckdb.paging import fetch_page
from opscope.store.duckdb.where import Where
from opscope.store.ports import DETAIL_MEMBERS as DETAIL_MEMBERS
from opscope.store.ports import DETAIL_TIMELINE as DETAIL_TIMELINE
from opscope.store.sql.incidents import (
    ANOMALIES_SELECT,
    CHANGES_SELECT,
    MAX_SERIES,
    SERIES_SELECT,
    IncidentReads,
    fold_changes,
)
from opscope.store.sql.topology import topology_models as topology_models


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# --- engine state ---------------------------------------------------------------------


def save_state(db: Database, name: str, data: bytes, now: datetime) -> None:
    with db.write() as con:
        con.execute(
            "INSERT INTO correlation_state VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
            "SET data = excluded.data, saved_at = excluded.saved_at",
            [name, data, to_naive_utc(now)],
        )


def load_state(db: Database, name: str) -> bytes | None:
    with db.read() as cur:
        row = first_row(cur, "SELECT data FROM correlation_state WHERE name = ?", [name])
    return bytes(row[0]) if row else None


# --- the change stream ----------------------------------------------------------------


def write_changes(db: Database, changes: Sequence[IncidentChange]) -> None:
    """Apply changes in ``seq`` order: the last snapshot of an incident or member wins."""
    if not changes:
        return
    folded = fold_changes(changes)
    incidents, removed, timeline = folded.incidents, folded.removed, folded.timeline
    with db.write() as con:
        con.executemany(
            "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO "
            "UPDATE SET status = excluded.status, severity = excluded.severity, "
            "title = excluded.title, opened_at = excluded.opened_at, "
            "updated_at = excluded.updated_at, resolved_at = excluded.resolved_at, "
            "entities = excluded.entities, doc = excluded.doc",
            [[i.id, i.status.value, i.severity.value, i.title, to_naive_utc(i.opened_at),
              to_naive_utc(i.updated_at),
              to_naive_utc(i.resolved_at) if i.resolved_at else None, list(i.entities),
              _json(i.model_dump(mode="json"))] for i in incidents],
        )
        for inc_id, signal_id in removed:
            con.execute("DELETE FROM incident_members WHERE incident_id = ? AND signal_id = ?",
                        [inc_id, signal_id])
        if folded.members:
            rows = folded.members
            db.insert_arrow(con, (
                "INSERT INTO incident_members SELECT * FROM batch ON CONFLICT "
                "(incident_id, signal_id) DO UPDATE SET joined_at = excluded.joined_at, "
                "muted = excluded.muted, doc = excluded.doc"), pa.table({
                    "incident_id": pa.array([m.incident_id for m in rows], type=pa.string()),
                    "signal_id": pa.array([m.signal.id for m in rows], type=pa.string()),
                    "joined_at": pa.array([m.joined_at for m in rows], type=TS),
                    "muted": pa.array([bool(m.muted_by) for m in rows], type=pa.bool_()),
                    "doc": pa.array([_json(m.model_dump(mode="json")) for m in rows],
                                    type=pa.string()),
                }))
        if timeline:
            first = db.allocate(con, "incident_timeline", len(timeline))
            db.insert_arrow(con, "INSERT INTO incident_timeline SELECT * FROM batch", pa.table({
                "seq": pa.array(range(first, first + len(timeline)), type=pa.int64()),
                "incident_id": pa.array([t.incident_id for t in timeline], type=pa.string()),
                "ts": pa.array([t.ts for t in timeline], type=TS),
                "kind": pa.array([t.kind.value for t in timeline], type=pa.string()),
                "summary": pa.array([t.summary for t in timeline], type=pa.string()),
                "signal_id": pa.array([t.signal_id for t in timeline], type=pa.string()),
                "data": pa.array([_json(t.data) for t in timeline], type=pa.string()),
            }))


def write_feedback(db: Database, feedback: Sequence[Feedback]) -> None:
    for item in feedback:
        record_action(db, item.kind.value, item.actor, item.incident_ids, item.ts,
                      item.model_dump(mode="json"))


def record_action(db: Database, action: str, actor: str, incident_ids: Sequence[str],
                  at: datetime, detail: dict[str, Any]) -> None:
    with db.write() as con:
        seq = db.allocate(con, "incident_actions", 1)
        con.execute("INSERT INTO incident_actions VALUES (?, ?, ?, ?, ?, ?)",
                    [seq, to_naive_utc(at), action, actor, list(incident_ids), _json(detail)])


def write_hypotheses(db: Database, incident_id: str, ranked_at: datetime,
                     hypotheses: Sequence[Hypothesis]) -> None:
    """Replace the incident's ranking with ``hypotheses`` (ranked at ``ranked_at``)."""
    with db.write() as con:
        con.execute("DELETE FROM incident_hypotheses WHERE incident_id = ?", [incident_id])
        if hypotheses:
            con.executemany(
                "INSERT INTO incident_hypotheses VALUES (?, ?, ?, ?, ?)",
                [[incident_id, h.rank, to_naive_utc(ranked_at), h.entity,
                  _json(h.model_dump(mode="json"))] for h in hypotheses],
            )


# --- silences -------------------------------------------------------------------------


def put_silence(db: Database, silence: Silence, now: datetime) -> None:
    with db.write() as con:
        con.execute(
            "INSERT INTO silences VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "starts_at = excluded.starts_at, ends_at = excluded.ends_at, "
            "created_by = excluded.created_by, doc = excluded.doc, "
            "updated_at = excluded.updated_at",
            [silence.id, to_naive_utc(silence.starts_at), to_naive_utc(silence.ends_at),
             silence.created_by, _json(silence.model_dump(mode="json")), to_naive_utc(now)],
        )


_READS = IncidentReads(
    where=Where,
    fetch_page=fetch_page,
    document=orjson.loads,
    has_entity="list_contains(entities, ?)",
    by_id="SELECT id, doc FROM incidents WHERE list_contains(?, id)",
    member_totals="SELECT incident_id, count(*) FROM incident_members "
                  "WHERE list_contains(?, incident_id) GROUP BY incident_id",
    first_members="SELECT incident_id, doc FROM (SELECT incident_id, doc, row_number() OVER "
                  "(PARTITION BY incident_id ORDER BY joined_at, signal_id) AS n "
                  "FROM incident_members WHERE list_contains(?, incident_id)) "
                  "WHERE n <= ? ORDER BY incident_id, n",
    timeline_totals="SELECT incident_id, count(*) FROM incident_timeline "
                    "WHERE list_contains(?, incident_id) GROUP BY incident_id",
    first_timeline="SELECT incident_id, seq, ts, kind, summary, signal_id, data FROM ("
                   "SELECT *, row_number() OVER (PARTITION BY incident_id ORDER BY ts, seq) "
                   "AS n FROM incident_timeline WHERE list_contains(?, incident_id)) "
                   "WHERE n <= ? ORDER BY incident_id, ts, seq",
    hypotheses="SELECT incident_id, ranked_at, doc FROM incident_hypotheses "
               "WHERE list_contains(?, incident_id) ORDER BY incident_id, rank",
    actions="SELECT ts, action, actor, doc, incident_ids FROM incident_actions "
            "WHERE list_has_any(incident_ids, ?) ORDER BY seq",
    silence=Silence.model_validate_json,
    silence_by_id="SELECT doc FROM silences WHERE id = ?",
    series=f"{SERIES_SELECT} WHERE entity IN (SELECT unnest(?::VARCHAR[])) "
           f"ORDER BY series_id LIMIT {MAX_SERIES}",
    points="SELECT series_id, epoch_us(ts) / 1e6, value FROM samples "
           "WHERE series_id IN (SELECT unnest(?::VARCHAR[])) AND ts >= ? AND ts < ? "
           "ORDER BY series_id, ts",
    changes=f"{CHANGES_SELECT} WHERE entity IN (SELECT unnest(?::VARCHAR[])) "
            "AND ts >= ? AND ts < ? ORDER BY ts, id",
    anomalies=f"{ANOMALIES_SELECT} WHERE entity IN (SELECT unnest(?::VARCHAR[])) "
              "AND ts >= ? AND ts < ? ORDER BY ts, id LIMIT 10000",
)

query_incidents = _READS.query_incidents
get_incident = _READS.get_incident
get_incidents = _READS.get_incidents
members_of = _READS.members_of
query_members = _READS.query_members
query_timeline = _READS.query_timeline
get_silence = _READS.get_silence
list_silences = _READS.list_silences
# What root-cause ranking reads.
entity_series = _READS.entity_series
changes_between = _READS.changes_between
anomalies_between = _READS.anomalies_between
