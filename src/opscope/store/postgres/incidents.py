"""Incidents in PostgreSQL: the correlation change stream, rankings, actions, silences.

The embedded store's design and row shapes (``opscope.store.duckdb.incidents``): each
:class:`IncidentChange` upserts the incident snapshot and its members, deletes members
split away and appends its timeline; rankings replace each other; operator actions are
an audit trail; and the reads root-cause ranking needs return model objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import Feedback, IncidentChange, Silence
from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.ports import DETAIL_MEMBERS as DETAIL_MEMBERS
from opscope.store.ports import DETAIL_TIMELINE as DETAIL_TIMELINE
from opscope.store.postgres.codec import clean, dump_json, naive
from opscope.store.postgres.database import Database, first_row, unnest
from opscope.store.postgres.paging import fetch_page
from opscope.store.postgres.where import Where
from opscope.store.sql.incidents import (
    ANOMALIES_SELECT,
    CHANGES_SELECT,
    MAX_SERIES,
    SERIES_SELECT,
    IncidentReads,
    fold_changes,
)
from opscope.store.sql.topology import topology_models as topology_models

# --- engine state ---------------------------------------------------------------------


def save_state(db: Database, name: str, data: bytes, now: datetime) -> None:
    with db.write() as con:
        con.execute(
            "INSERT INTO correlation_state VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE "
            "SET data = excluded.data, saved_at = excluded.saved_at",
            [name, data, to_naive_utc(now)],
        )


def load_state(db: Database, name: str) -> bytes | None:
    with db.read() as cur:
        row = first_row(cur, "SELECT data FROM correlation_state WHERE name = %s", [name])
    return bytes(row[0]) if row else None


# --- the change stream ----------------------------------------------------------------

_UPSERT_INCIDENTS = (
    "INSERT INTO incidents SELECT id, status, severity, title, opened_at, updated_at, "
    f"resolved_at, {'ARRAY(SELECT jsonb_array_elements_text(entities::jsonb))'}, doc::jsonb "
    "FROM " + unnest(
        ("id", "text"), ("status", "text"), ("severity", "text"), ("title", "text"),
        ("opened_at", "timestamp"), ("updated_at", "timestamp"),
        ("resolved_at", "timestamp"), ("entities", "text"), ("doc", "text"))
    + " ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
    "severity = excluded.severity, title = excluded.title, opened_at = excluded.opened_at, "
    "updated_at = excluded.updated_at, resolved_at = excluded.resolved_at, "
    "entities = excluded.entities, doc = excluded.doc"
)
_UPSERT_MEMBERS = (
    "INSERT INTO incident_members SELECT incident_id, signal_id, joined_at, muted, "
    "doc::jsonb FROM " + unnest(
        ("incident_id", "text"), ("signal_id", "text"), ("joined_at", "timestamp"),
        ("muted", "boolean"), ("doc", "text"))
    + " ON CONFLICT (incident_id, signal_id) DO UPDATE SET joined_at = excluded.joined_at, "
    "muted = excluded.muted, doc = excluded.doc"
)
_APPEND_TIMELINE = (
    "INSERT INTO incident_timeline (incident_id, ts, kind, summary, signal_id, data) "
    "SELECT incident_id, ts, kind, summary, signal_id, data::jsonb FROM " + unnest(
        ("incident_id", "text"), ("ts", "timestamp"), ("kind", "text"), ("summary", "text"),
        ("signal_id", "text"), ("data", "text"))
)


def write_changes(db: Database, changes: Sequence[IncidentChange]) -> None:
    """Apply changes in ``seq`` order: the last snapshot of an incident or member wins."""
    if not changes:
        return
    folded = fold_changes(changes)
    incidents, removed, timeline = folded.incidents, folded.removed, folded.timeline
    with db.write() as con:
        con.execute(_UPSERT_INCIDENTS, [
            [i.id for i in incidents], [i.status.value for i in incidents],
            [i.severity.value for i in incidents], [clean(i.title) for i in incidents],
            naive(i.opened_at for i in incidents), naive(i.updated_at for i in incidents),
            naive(i.resolved_at for i in incidents),
            [dump_json(list(i.entities)) for i in incidents],
            [dump_json(i.model_dump(mode="json")) for i in incidents],
        ])
        if removed:
            con.execute(
                "DELETE FROM incident_members WHERE (incident_id, signal_id) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                [[r[0] for r in removed], [r[1] for r in removed]],
            )
        if folded.members:
            rows = folded.members
            con.execute(_UPSERT_MEMBERS, [
                [m.incident_id for m in rows], [m.signal.id for m in rows],
                naive(m.joined_at for m in rows), [bool(m.muted_by) for m in rows],
                [dump_json(m.model_dump(mode="json")) for m in rows],
            ])
        if timeline:
            con.execute(_APPEND_TIMELINE, [
                [t.incident_id for t in timeline], naive(t.ts for t in timeline),
                [t.kind.value for t in timeline], [clean(t.summary) for t in timeline],
                [t.signal_id for t in timeline], [dump_json(t.data) for t in timeline],
            ])


def write_feedback(db: Database, feedback: Sequence[Feedback]) -> None:
    for item in feedback:
        record_action(db, item.kind.value, item.actor, item.incident_ids, item.ts,
                      item.model_dump(mode="json"))


def record_action(db: Database, action: str, actor: str, incident_ids: Sequence[str],
                  at: datetime, detail: dict[str, Any]) -> None:
    with db.write() as con:
        con.execute(
            "INSERT INTO incident_actions (ts, action, actor, incident_ids, doc) "
            "VALUES (%s, %s, %s, %s::text[], %s::jsonb)",
            [to_naive_utc(at), action, clean(actor), list(incident_ids), dump_json(detail)])


def write_hypotheses(db: Database, incident_id: str, ranked_at: datetime,
                     hypotheses: Sequence[Hypothesis]) -> None:
    """Replace the incident's ranking with ``hypotheses`` (ranked at ``ranked_at``)."""
    with db.write() as con:
        con.execute("DELETE FROM incident_hypotheses WHERE incident_id = %s", [incident_id])
        if hypotheses:
            with con.cursor() as cur:
                cur.executemany(
                    "INSERT INTO incident_hypotheses VALUES (%s, %s, %s, %s, %s::jsonb)",
                    [[incident_id, h.rank, to_naive_utc(ranked_at), clean(h.entity),
                      dump_json(h.model_dump(mode="json"))] for h in hypotheses],
                )


# --- silences -------------------------------------------------------------------------


def put_silence(db: Database, silence: Silence, now: datetime) -> None:
    with db.write() as con:
        con.execute(
            "INSERT INTO silences VALUES (%s, %s, %s, %s, %s::jsonb, %s) ON CONFLICT (id) "
            "DO UPDATE SET starts_at = excluded.starts_at, ends_at = excluded.ends_at, "
            "created_by = excluded.created_by, doc = excluded.doc, "
            "updated_at = excluded.updated_at",
            [silence.id, to_naive_utc(silence.starts_at), to_naive_utc(silence.ends_at),
             silence.created_by, dump_json(silence.model_dump(mode="json")),
             to_naive_utc(now)],
        )


def _parsed(value: Any) -> Any:
    # psycopg has already parsed JSONB (with orjson, see ``database``).
    return value


_READS = IncidentReads(
    where=Where,
    fetch_page=fetch_page,
    document=_parsed,
    has_entity="? = ANY(entities)",
    by_id="SELECT id, doc FROM incidents WHERE id = ANY(%s::text[])",
    member_totals="SELECT incident_id, count(*) FROM incident_members "
                  "WHERE incident_id = ANY(%s::text[]) GROUP BY incident_id",
    first_members="SELECT incident_id, doc FROM (SELECT incident_id, doc, row_number() OVER "
                  "(PARTITION BY incident_id ORDER BY joined_at, signal_id) AS n "
                  "FROM incident_members WHERE incident_id = ANY(%s::text[])) q "
                  "WHERE n <= %s ORDER BY incident_id, n",
    timeline_totals="SELECT incident_id, count(*) FROM incident_timeline "
                    "WHERE incident_id = ANY(%s::text[]) GROUP BY incident_id",
    first_timeline="SELECT incident_id, seq, ts, kind, summary, signal_id, data FROM ("
                   "SELECT *, row_number() OVER (PARTITION BY incident_id ORDER BY ts, seq) "
                   "AS n FROM incident_timeline WHERE incident_id = ANY(%s::text[])) q "
                   "WHERE n <= %s ORDER BY incident_id, ts, seq",
    hypotheses="SELECT incident_id, ranked_at, doc FROM incident_hypotheses "
               "WHERE incident_id = ANY(%s::text[]) ORDER BY incident_id, rank",
    actions="SELECT ts, action, actor, doc, incident_ids FROM incident_actions "
            "WHERE incident_ids && %s::text[] ORDER BY seq",
    silence=Silence.model_validate,
    silence_by_id="SELECT doc FROM silences WHERE id = %s",
    series=f"{SERIES_SELECT} WHERE entity = ANY(%s::text[]) "
           f"ORDER BY series_id LIMIT {MAX_SERIES}",
    points="SELECT series_id, extract(epoch FROM ts)::float8, value FROM samples "
           "WHERE series_id = ANY(%s::text[]) AND ts >= %s AND ts < %s "
           "ORDER BY series_id, ts",
    changes=f"{CHANGES_SELECT} WHERE entity = ANY(%s::text[]) "
            "AND ts >= %s AND ts < %s ORDER BY ts, id",
    anomalies=f"{ANOMALIES_SELECT} WHERE entity = ANY(%s::text[]) "
              "AND ts >= %s AND ts < %s ORDER BY ts, id LIMIT 10000",
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
