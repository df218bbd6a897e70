"""Incidents: what both backends check, and the reads they share.

Incidents are read with their members, timeline, ranking and operator actions; silences
from their JSON document; root-cause ranking reads, around an incident, the series of
its entities, their changes and anomalies (and the topology, ``topology.py``) as model
objects and plain columns, so that the analysis layer needs nothing from the store
package. The logic is here once; each backend gives :class:`IncidentReads` its
statements and exports the bound methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opscope.model import Anomaly, Change
from opscope.model.incident import (
    Incident,
    IncidentChange,
    IncidentMember,
    Silence,
    TimelineEntry,
)
from opscope.store.ports import (
    DETAIL_MEMBERS,
    DETAIL_TIMELINE,
    IncidentQuery,
    Page,
    Row,
    SeriesColumns,
)
from opscope.store.sql.codec import as_labels, aware, iso, to_naive_utc
from opscope.store.sql.database import Con, SQLDatabase
from opscope.store.sql.paging import FetchPage, PageSpec
from opscope.store.sql.where import Where, invalid

STATUSES = ("pending", "open", "resolved", "merged")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_SERIES = 2000

SERIES_SELECT = "SELECT series_id, entity, name, labels FROM series"
CHANGES_SELECT = (
    "SELECT id, entity, kind, version, author, ts, description, labels FROM changes")
ANOMALIES_SELECT = (
    "SELECT id, kind, detector, entity, subject, ts, score, value, expected, lower, "
    "upper, direction, summary FROM anomalies")

# A sub-select, so that the filters and the keyset clause name bare columns.
_INCIDENTS_SELECT = (
    "SELECT * FROM (SELECT i.id, i.status, i.severity, i.opened_at, i.entities, i.doc, "
    "h.doc AS top FROM incidents i LEFT JOIN incident_hypotheses h "
    "ON h.incident_id = i.id AND h.rank = 1) q")
_MEMBERS_SELECT = "SELECT signal_id, joined_at, doc FROM incident_members"
_TIMELINE_SELECT = "SELECT seq, ts, kind, summary, signal_id, data FROM incident_timeline"



@dataclass(frozen=True, slots=True)
class FoldedChanges:
    """A batch of changes reduced to what is written: the last snapshot of each incident
    and member, the members split away, and every timeline entry."""

    incidents: list[Incident]
    members: list[IncidentMember]
    removed: list[tuple[str, str]]
    timeline: list[TimelineEntry]


def fold_changes(changes: Sequence[IncidentChange]) -> FoldedChanges:
    """Apply changes in ``seq`` order: the last snapshot of an incident or member wins."""
    ordered = sorted(changes, key=lambda c: c.seq)
    incidents = {c.incident.id: c.incident for c in ordered}
    members: dict[tuple[str, str], IncidentMember] = {}
    removed: list[tuple[str, str]] = []
    timeline: list[TimelineEntry] = []
    for change in ordered:
        inc_id = change.incident.id
        for signal_id in change.removed_signal_ids:
            members.pop((inc_id, signal_id), None)
            removed.append((inc_id, signal_id))
        for member in change.members:
            members[(inc_id, member.signal.id)] = member
        timeline.extend(change.timeline)
    return FoldedChanges(list(incidents.values()), list(members.values()), removed, timeline)


@dataclass(frozen=True, slots=True)
class IncidentReads:
    """The incident reads over one backend's statements.

    ``where`` makes the backend's empty ``WHERE`` clause and ``fetch_page`` reads one
    keyset page; ``document`` turns a stored JSON document into its value (the drivers
    return text or parsed JSON); ``has_entity`` keeps the incidents whose ``entities``
    hold the ``?`` parameter.

    Detail statements, each taking a list of incident ids: ``by_id`` selects
    ``(id, doc)``; ``member_totals`` and ``timeline_totals`` ``(incident_id, count)``;
    ``first_members`` the ``(incident_id, doc)`` of the first members to join (a limit
    is its second parameter), by incident and order of joining; ``first_timeline`` the
    ``(incident_id, seq, ts, kind, summary, signal_id, data)`` of the earliest entries
    (with a limit), by incident, time and seq; ``hypotheses`` ``(incident_id,
    ranked_at, doc)`` by incident and rank; ``actions`` ``(ts, action, actor, doc,
    incident_ids)`` of the actions naming any of the ids, in order.

    ``silence`` builds a silence from its stored document; ``silence_by_id`` selects one
    document by id. ``series`` selects :data:`SERIES_SELECT`'s columns of a list of
    entities (at most :data:`MAX_SERIES`, by id); ``points`` the ``(series_id, epoch
    seconds, value)`` of a list of series in a time range, by series and time;
    ``changes`` and ``anomalies`` the :data:`CHANGES_SELECT` and :data:`ANOMALIES_SELECT`
    columns of a list of entities in a time range, by time and id.
    """

    where: Callable[[], Where]
    fetch_page: FetchPage
    document: Callable[[Any], Any]
    has_entity: str
    by_id: str
    member_totals: str
    first_members: str
    timeline_totals: str
    first_timeline: str
    hypotheses: str
    actions: str
    silence: Callable[[Any], Silence]
    silence_by_id: str
    series: str
    points: str
    changes: str
    anomalies: str

    def _incident_row(self, r: dict[str, Any]) -> Row:
        row: Row = self.document(r["doc"])
        top = r.get("top")
        row["top_hypothesis"] = self.document(top) if top else None
        return row

    def _member_row(self, r: dict[str, Any]) -> Row:
        row: Row = self.document(r["doc"])
        return row

    def _timeline_row(self, r: dict[str, Any]) -> Row:
        return {"ts": iso(r["ts"]), "kind": r["kind"], "summary": r["summary"],
                "signal_id": r["signal_id"], "data": self.document(r["data"]),
                "seq": r["seq"]}

    def query_incidents(self, db: SQLDatabase[Con], query: IncidentQuery) -> Page:
        """Incidents newest first (by opening time), each with its top hypothesis."""
        where = self.where()
        where.time("opened_at", query.time)
        if query.status is not None and query.status not in STATUSES:
            raise invalid("status", f"status must be one of {', '.join(STATUSES)}")
        where.equals("status", query.status)
        bad = [s for s in query.severity if s not in SEVERITIES]
        if bad:
            raise invalid("severity", f"severity must be among {', '.join(SEVERITIES)}")
        where.any_of("severity", query.severity)
        if query.entity:
            where.add(self.has_entity, query.entity)
        spec = PageSpec("incidents", _INCIDENTS_SELECT, "opened_at", "id", str,
                        self._incident_row)
        with db.read() as cur:
            return self.fetch_page(cur, spec, where, query.limit, query.cursor)

    def get_incident(self, db: SQLDatabase[Con], incident_id: str,
                     members_limit: int = DETAIL_MEMBERS,
                     timeline_limit: int = DETAIL_TIMELINE) -> Row | None:
        """The incident with its members, timeline, ranking and operator actions.

        A storm can put tens of thousands of alerts in one incident, so the detail carries
        the first ``members_limit`` members to join and the first ``timeline_limit``
        timeline entries, with ``member_total`` and ``timeline_total``;
        :meth:`query_members` and :meth:`query_timeline` page through all of them.
        """
        return self.get_incidents(db, [incident_id], members_limit,
                                  timeline_limit).get(incident_id)

    def get_incidents(self, db: SQLDatabase[Con], incident_ids: Sequence[str],
                      members_limit: int = DETAIL_MEMBERS,
                      timeline_limit: int = DETAIL_TIMELINE) -> dict[str, Row]:
        """:meth:`get_incident` for many incidents, one query per table; unknown ids are
        left out. A limit of 0 skips that table's read."""
        ids = list(dict.fromkeys(incident_ids))
        if not ids:
            return {}
        doc = self.document
        found: dict[str, Row] = {}
        with db.read() as cur:
            for inc_id, stored in cur.execute(self.by_id, [ids]).fetchall():
                found[inc_id] = doc(stored)
            if not found:
                return {}
            ids = [i for i in ids if i in found]
            for row in found.values():
                row.update(members=[], member_total=0, timeline=[], timeline_total=0,
                           ranked_at=None, hypotheses=[], actions=[])
            for inc_id, total in cur.execute(self.member_totals, [ids]).fetchall():
                found[inc_id]["member_total"] = int(total)
            if members_limit > 0:
                for inc_id, stored in cur.execute(
                        self.first_members, [ids, int(members_limit)]).fetchall():
                    found[inc_id]["members"].append(doc(stored))
            for inc_id, total in cur.execute(self.timeline_totals, [ids]).fetchall():
                found[inc_id]["timeline_total"] = int(total)
            if timeline_limit > 0:
                for r in cur.execute(self.first_timeline, [ids, int(timeline_limit)]).fetchall():
                    found[r[0]]["timeline"].append(self._timeline_row(dict(zip(
                        ("seq", "ts", "kind", "summary", "signal_id", "data"), r[1:],
                        strict=True))))
            for inc_id, ranked_at, stored in cur.execute(self.hypotheses, [ids]).fetchall():
                row = found[inc_id]
                if row["ranked_at"] is None:
                    row["ranked_at"] = iso(ranked_at)
                row["hypotheses"].append(doc(stored))
            wanted = set(ids)
            for ts, action, actor, stored, targets in cur.execute(
                    self.actions, [ids]).fetchall():
                entry = {"ts": iso(ts), "action": action, "actor": actor,
                         "detail": doc(stored)}
                for inc_id in dict.fromkeys(targets):
                    if inc_id in wanted:
                        found[inc_id]["actions"].append(entry)
        return found

    def members_of(self, db: SQLDatabase[Con], incident_ids: Sequence[str],
                   per_incident: int = DETAIL_MEMBERS) -> dict[str, list[Row]]:
        """The first ``per_incident`` members to join each incident, in one query."""
        if not incident_ids:
            return {}
        with db.read() as cur:
            rows = cur.execute(
                self.first_members, [list(incident_ids), int(per_incident)]).fetchall()
        found: dict[str, list[Row]] = {i: [] for i in incident_ids}
        for incident_id, stored in rows:
            found[incident_id].append(self.document(stored))
        return found

    def query_members(self, db: SQLDatabase[Con], incident_id: str, limit: int,
                      cursor: str | None) -> Page:
        """An incident's members, latest to join first."""
        where = self.where()
        where.equals("incident_id", incident_id)
        spec = PageSpec("incident_members", _MEMBERS_SELECT, "joined_at", "signal_id", str,
                        self._member_row)
        with db.read() as cur:
            return self.fetch_page(cur, spec, where, limit, cursor)

    def query_timeline(self, db: SQLDatabase[Con], incident_id: str, limit: int,
                       cursor: str | None) -> Page:
        """An incident's timeline, latest first."""
        where = self.where()
        where.equals("incident_id", incident_id)
        spec = PageSpec("incident_timeline", _TIMELINE_SELECT, "ts", "seq", int,
                        self._timeline_row)
        with db.read() as cur:
            return self.fetch_page(cur, spec, where, limit, cursor)

    def get_silence(self, db: SQLDatabase[Con], silence_id: str) -> Silence | None:
        with db.read() as cur:
            row = db.first_row(cur, self.silence_by_id, [silence_id])
        return self.silence(row[0]) if row else None

    def list_silences(self, db: SQLDatabase[Con], active_at: datetime | None = None
                      ) -> list[Silence]:
        """Every silence (or those active at ``active_at``), latest ending first."""
        where = self.where()
        if active_at is not None:
            at = to_naive_utc(active_at)
            where.add("starts_at <= ? AND ends_at > ?", at, at)
        with db.read() as cur:
            rows = cur.execute(
                f"SELECT doc FROM silences{where.sql()} ORDER BY ends_at DESC, id",
                where.params).fetchall()
        return [self.silence(r[0]) for r in rows]

    def entity_series(self, db: SQLDatabase[Con], entities: Sequence[str], start: datetime,
                      end: datetime) -> list[SeriesColumns]:
        """Every stored series of ``entities`` with its samples in ``[start, end)``."""
        if not entities:
            return []
        with db.read() as cur:
            series = cur.execute(self.series, [list(entities)]).fetchall()
            if not series:
                return []
            points = cur.execute(
                self.points,
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

    def changes_between(self, db: SQLDatabase[Con], entities: Sequence[str],
                        start: datetime, end: datetime) -> list[Change]:
        with db.read() as cur:
            rows = cur.execute(
                self.changes, [list(entities), to_naive_utc(start), to_naive_utc(end)],
            ).fetchall()
        return [Change(id=r[0], entity=r[1], kind=r[2], version=r[3], author=r[4],
                       ts=aware(r[5]), description=r[6], labels=as_labels(r[7]))
                for r in rows]

    def anomalies_between(self, db: SQLDatabase[Con], entities: Sequence[str],
                          start: datetime, end: datetime) -> list[Anomaly]:
        with db.read() as cur:
            rows = cur.execute(
                self.anomalies, [list(entities), to_naive_utc(start), to_naive_utc(end)],
            ).fetchall()
        return [Anomaly(id=r[0], kind=r[1], detector=r[2], entity=r[3], subject=r[4],
                        ts=aware(r[5]), score=float(r[6]), value=r[7], expected=r[8],
                        lower=r[9], upper=r[10], direction=r[11], summary=r[12])
                for r in rows]
