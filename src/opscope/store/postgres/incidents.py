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

from opscope.model import Anomaly, Change, Entity, Relation
from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import Feedback, IncidentChange, Silence
from opscope.store.duckdb.codec import as_labels, aware, iso, to_naive_utc
from opscope.store.duckdb.incidents import DETAIL_MEMBERS as DETAIL_MEMBERS
from opscope.store.duckdb.incidents import DETAIL_TIMELINE as DETAIL_TIMELINE
from opscope.store.duckdb.incidents import MAX_SERIES, SEVERITIES, STATUSES
from opscope.store.ports import IncidentQuery, Page, Row, SeriesColumns
from opscope.store.postgres.codec import clean, dump_json, naive
from opscope.store.postgres.database import Database, first_row, unnest
from opscope.store.postgres.paging import PageSpec, fetch_page
from opscope.store.postgres.where import Where, invalid

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
    ordered = sorted(changes, key=lambda c: c.seq)
    incidents = list({c.incident.id: c.incident for c in ordered}.values())
    members: dict[tuple[str, str], Any] = {}
    removed: list[tuple[str, str]] = []
    timeline = []
    for change in ordered:
        inc_id = change.incident.id
        for signal_id in change.removed_signal_ids:
            members.pop((inc_id, signal_id), None)
            removed.append((inc_id, signal_id))
        for member in change.members:
            members[(inc_id, member.signal.id)] = member
        timeline.extend(change.timeline)
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
        if members:
            rows = list(members.values())
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
            [to_naive_utc(at), action, actor, list(incident_ids), dump_json(detail)])


def write_hypotheses(db: Database, incident_id: str, ranked_at: datetime,
                     hypotheses: Sequence[Hypothesis]) -> None:
    """Replace the incident's ranking with ``hypotheses`` (ranked at ``ranked_at``)."""
    with db.write() as con:
        con.execute("DELETE FROM incident_hypotheses WHERE incident_id = %s", [incident_id])
        if hypotheses:
            with con.cursor() as cur:
                cur.executemany(
                    "INSERT INTO incident_hypotheses VALUES (%s, %s, %s, %s, %s::jsonb)",
                    [[incident_id, h.rank, to_naive_utc(ranked_at), h.entity,
                      dump_json(h.model_dump(mode="json"))] for h in hypotheses],
                )


# --- reads ----------------------------------------------------------------------------


def _incident_row(r: dict[str, Any]) -> Row:
    row: Row = r["doc"]
    row["top_hypothesis"] = r.get("top")
    return row


_INCIDENTS = PageSpec(
    "incidents",
    "SELECT * FROM (SELECT i.id, i.status, i.severity, i.opened_at, i.entities, i.doc, "
    "h.doc AS top FROM incidents i LEFT JOIN incident_hypotheses h "
    "ON h.incident_id = i.id AND h.rank = 1) q",
    "opened_at", "id", str, _incident_row,
)


def query_incidents(db: Database, query: IncidentQuery) -> Page:
    """Incidents newest first (by opening time), each with its top hypothesis."""
    where = Where()
    where.time("opened_at", query.time)
    if query.status is not None and query.status not in STATUSES:
        raise invalid("status", f"status must be one of {', '.join(STATUSES)}")
    where.equals("status", query.status)
    bad = [s for s in query.severity if s not in SEVERITIES]
    if bad:
        raise invalid("severity", f"severity must be among {', '.join(SEVERITIES)}")
    where.any_of("severity", query.severity)
    if query.entity:
        where.add("? = ANY(entities)", query.entity)
    with db.read() as cur:
        return fetch_page(cur, _INCIDENTS, where, query.limit, query.cursor)


def _timeline_row(r: dict[str, Any]) -> Row:
    return {"ts": iso(r["ts"]), "kind": r["kind"], "summary": r["summary"],
            "signal_id": r["signal_id"], "data": r["data"], "seq": r["seq"]}


def get_incident(db: Database, incident_id: str, members_limit: int = DETAIL_MEMBERS,
                 timeline_limit: int = DETAIL_TIMELINE) -> Row | None:
    """The incident with its members, timeline, ranking and operator actions (see the
    embedded store's ``get_incident`` for the limits)."""
    return get_incidents(db, [incident_id], members_limit, timeline_limit).get(incident_id)


def get_incidents(db: Database, incident_ids: Sequence[str],
                  members_limit: int = DETAIL_MEMBERS,
                  timeline_limit: int = DETAIL_TIMELINE) -> dict[str, Row]:
    """:func:`get_incident` for many incidents, one query per table; unknown ids are left
    out. A limit of 0 skips that table's read."""
    ids = list(dict.fromkeys(incident_ids))
    if not ids:
        return {}
    found: dict[str, Row] = {}
    with db.read() as cur:
        for inc_id, doc in cur.execute(
                "SELECT id, doc FROM incidents WHERE id = ANY(%s::text[])", [ids]).fetchall():
            found[inc_id] = doc
        if not found:
            return {}
        ids = [i for i in ids if i in found]
        for row in found.values():
            row.update(members=[], member_total=0, timeline=[], timeline_total=0,
                       ranked_at=None, hypotheses=[], actions=[])
        for inc_id, total in cur.execute(
                "SELECT incident_id, count(*) FROM incident_members "
                "WHERE incident_id = ANY(%s::text[]) GROUP BY incident_id", [ids]).fetchall():
            found[inc_id]["member_total"] = int(total)
        if members_limit > 0:
            for inc_id, doc in cur.execute(
                    "SELECT incident_id, doc FROM (SELECT incident_id, doc, row_number() OVER "
                    "(PARTITION BY incident_id ORDER BY joined_at, signal_id) AS n "
                    "FROM incident_members WHERE incident_id = ANY(%s::text[])) q "
                    "WHERE n <= %s ORDER BY incident_id, n",
                    [ids, int(members_limit)]).fetchall():
                found[inc_id]["members"].append(doc)
        for inc_id, total in cur.execute(
                "SELECT incident_id, count(*) FROM incident_timeline "
                "WHERE incident_id = ANY(%s::text[]) GROUP BY incident_id", [ids]).fetchall():
            found[inc_id]["timeline_total"] = int(total)
        if timeline_limit > 0:
            for r in cur.execute(
                    "SELECT incident_id, seq, ts, kind, summary, signal_id, data FROM ("
                    "SELECT *, row_number() OVER (PARTITION BY incident_id ORDER BY ts, seq) "
                    "AS n FROM incident_timeline WHERE incident_id = ANY(%s::text[])) q "
                    "WHERE n <= %s ORDER BY incident_id, ts, seq",
                    [ids, int(timeline_limit)]).fetchall():
                found[r[0]]["timeline"].append(_timeline_row(dict(zip(
                    ("seq", "ts", "kind", "summary", "signal_id", "data"), r[1:], strict=True))))
        for inc_id, ranked_at, doc in cur.execute(
                "SELECT incident_id, ranked_at, doc FROM incident_hypotheses "
                "WHERE incident_id = ANY(%s::text[]) ORDER BY incident_id, rank",
                [ids]).fetchall():
            row = found[inc_id]
            if row["ranked_at"] is None:
                row["ranked_at"] = iso(ranked_at)
            row["hypotheses"].append(doc)
        wanted = set(ids)
        for ts, action, actor, doc, targets in cur.execute(
                "SELECT ts, action, actor, doc, incident_ids FROM incident_actions "
                "WHERE incident_ids && %s::text[] ORDER BY seq", [ids]).fetchall():
            entry = {"ts": iso(ts), "action": action, "actor": actor, "detail": doc}
            for inc_id in dict.fromkeys(targets):
                if inc_id in wanted:
                    found[inc_id]["actions"].append(entry)
    return found


def members_of(db: Database, incident_ids: Sequence[str], per_incident: int = DETAIL_MEMBERS
               ) -> dict[str, list[Row]]:
    """The first ``per_incident`` members to join each incident, in one query."""
    if not incident_ids:
        return {}
    with db.read() as cur:
        rows = cur.execute(
            "SELECT incident_id, doc FROM (SELECT incident_id, doc, row_number() OVER "
            "(PARTITION BY incident_id ORDER BY joined_at, signal_id) AS n "
            "FROM incident_members WHERE incident_id = ANY(%s::text[])) q "
            "WHERE n <= %s ORDER BY incident_id, n",
            [list(incident_ids), int(per_incident)]).fetchall()
    found: dict[str, list[Row]] = {i: [] for i in incident_ids}
    for incident_id, doc in rows:
        found[incident_id].append(doc)
    return found


def _member_row(r: dict[str, Any]) -> Row:
    row: Row = r["doc"]
    return row


_MEMBERS = PageSpec(
    "incident_members",
    "SELECT signal_id, joined_at, doc FROM incident_members",
    "joined_at", "signal_id", str, _member_row,
)
_TIMELINE = PageSpec(
    "incident_timeline",
    "SELECT seq, ts, kind, summary, signal_id, data FROM incident_timeline",
    "ts", "seq", int, _timeline_row,
)


def query_members(db: Database, incident_id: str, limit: int, cursor: str | None) -> Page:
    """An incident's members, latest to join first."""
    where = Where()
    where.equals("incident_id", incident_id)
    with db.read() as cur:
        return fetch_page(cur, _MEMBERS, where, limit, cursor)


def query_timeline(db: Database, incident_id: str, limit: int, cursor: str | None) -> Page:
    """An incident's timeline, latest first."""
    where = Where()
    where.equals("incident_id", incident_id)
    with db.read() as cur:
        return fetch_page(cur, _TIMELINE, where, limit, cursor)


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


def get_silence(db: Database, silence_id: str) -> Silence | None:
    with db.read() as cur:
        row = first_row(cur, "SELECT doc FROM silences WHERE id = %s", [silence_id])
    return Silence.model_validate(row[0]) if row else None


def list_silences(db: Database, active_at: datetime | None = None) -> list[Silence]:
    """Every silence (or those active at ``active_at``), latest ending first."""
    where = Where()
    if active_at is not None:
        at = to_naive_utc(active_at)
        where.add("starts_at <= ? AND ends_at > ?", at, at)
    with db.read() as cur:
        rows = cur.execute(f"SELECT doc FROM silences{where.sql()} ORDER BY ends_at DESC, id",
                           where.params).fetchall()
    return [Silence.model_validate(r[0]) for r in rows]


# --- what root-cause ranking reads ----------------------------------------------------


def entity_series(db: Database, entities: Sequence[str], start: datetime,
                  end: datetime) -> list[SeriesColumns]:
    """Every stored series of ``entities`` with its samples in ``[start, end)``."""
    if not entities:
        return []
    with db.read() as cur:
        series = cur.execute(
            "SELECT series_id, entity, name, labels FROM series "
            "WHERE entity = ANY(%s::text[]) ORDER BY series_id "
            f"LIMIT {MAX_SERIES}", [list(entities)]).fetchall()
        if not series:
            return []
        points = cur.execute(
            "SELECT series_id, extract(epoch FROM ts)::float8, value FROM samples "
            "WHERE series_id = ANY(%s::text[]) AND ts >= %s AND ts < %s "
            "ORDER BY series_id, ts",
            [[r[0] for r in series], to_naive_utc(start), to_naive_utc(end)]).fetchall()
    times: dict[str, list[float]] = {r[0]: [] for r in series}
    values: dict[str, list[float]] = {r[0]: [] for r in series}
    for sid, t, v in points:
        times[sid].append(float(t))
        values[sid].append(float("nan") if v is None else float(v))
    out = []
    for sid, entity, name, labels in series:
        if not times[sid]:
            continue
        # The entity's own labels say nothing the entity does not; keep the rest
        # (quantile, database) so that two series of one metric stay apart.
        extra = ",".join(f"{k}={v}" for k, v in sorted(as_labels(labels).items())
                         if k not in ("service", "host"))
        metric = f"{name}{{{extra}}}" if extra else name
        out.append(SeriesColumns(sid, entity, metric, times[sid], values[sid]))
    return out


def changes_between(db: Database, entities: Sequence[str], start: datetime,
                    end: datetime) -> list[Change]:
    with db.read() as cur:
        rows = cur.execute(
            "SELECT id, entity, kind, version, author, ts, description, labels FROM changes "
            "WHERE entity = ANY(%s::text[]) AND ts >= %s AND ts < %s "
            "ORDER BY ts, id", [list(entities), to_naive_utc(start), to_naive_utc(end)],
        ).fetchall()
    return [Change(id=r[0], entity=r[1], kind=r[2], version=r[3], author=r[4], ts=aware(r[5]),
                   description=r[6], labels=as_labels(r[7])) for r in rows]


def anomalies_between(db: Database, entities: Sequence[str], start: datetime,
                      end: datetime) -> list[Anomaly]:
    with db.read() as cur:
        rows = cur.execute(
            "SELECT id, kind, detector, entity, subject, ts, score, value, expected, lower, "
            "upper, direction, summary FROM anomalies "
            "WHERE entity = ANY(%s::text[]) AND ts >= %s AND ts < %s "
            "ORDER BY ts, id LIMIT 10000",
            [list(entities), to_naive_utc(start), to_naive_utc(end)]).fetchall()
    return [Anomaly(id=r[0], kind=r[1], detector=r[2], entity=r[3], subject=r[4],
                    ts=aware(r[5]), score=float(r[6]), value=r[7], expected=r[8], lower=r[9],
                    upper=r[10], direction=r[11], summary=r[12]) for r in rows]


def topology_models(db: Database) -> tuple[list[Entity], list[Relation]]:
    with db.read() as cur:
        ents = cur.execute("SELECT id, kind, name, labels FROM entities ORDER BY id").fetchall()
        rels = cur.execute(
            "SELECT source, target, kind FROM relations ORDER BY source, target, kind"
        ).fetchall()
    entities = [Entity(id=r[0], kind=r[1], name=r[2], labels=as_labels(r[3])) for r in ents]
    relations = [Relation.model_validate({"source": r[0], "target": r[1], "kind": r[2]})
                 for r in rels]
    return entities, relations

