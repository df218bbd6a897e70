"""Anomalies found by analysis: appended (idempotently, by id) and queried like records;
operators' verdicts on them are appended and read back per anomaly, and the false alarms
among them read in ``seq`` order, with the embedded store's row shapes
(``opscope.store.duckdb.anomalies``).

Metric analysis (in any process) reads the false alarms after the last verdict ``seq``
it saw, so verdicts must become visible in ``seq`` order: recording one takes the
``anomaly_verdicts`` advisory lock until it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from psycopg.rows import dict_row

from opscope.model import Anomaly, AnomalyVerdict, Verdict
from opscope.store.duckdb.anomalies import ANOMALIES as _ANOMALIES
from opscope.store.duckdb.anomalies import (
    FALSE_ALARMS_SELECT,
    VERDICTS_SELECT,
    anomaly_id,
    false_alarm_rows,
    group_verdicts,
)
from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.ports import Row, WriteResult
from opscope.store.postgres.codec import clean, dump_json, naive
from opscope.store.postgres.database import Database, count, unnest
from opscope.store.postgres.where import placeholders

_COLUMNS = (
    ("id", "text"), ("kind", "text"), ("detector", "text"), ("entity", "text"),
    ("subject", "text"), ("ts", "timestamp"), ("score", "float8"), ("value", "float8"),
    ("expected", "float8"), ("lower", "float8"), ("upper", "float8"),
    ("direction", "text"), ("summary", "text"), ("evidence", "text"),
)
_NAMES = ", ".join(n for n, _ in _COLUMNS)
_APPEND = (
    f"INSERT INTO anomalies SELECT {_NAMES.replace('evidence', 'evidence::jsonb')} "
    f"FROM {unnest(*_COLUMNS)} ON CONFLICT DO NOTHING"
)

# The embedded store's table description; ``evidence`` is read as text, which the shared
# row function parses.
ANOMALIES = replace(_ANOMALIES, page=replace(
    _ANOMALIES.page, select=f"SELECT {_NAMES.replace('evidence', 'evidence::text AS evidence')}"
    " FROM anomalies"))


def append_anomalies(db: Database, anomalies: Sequence[Anomaly]) -> WriteResult:
    """Append; an anomaly whose id is already stored is skipped (idempotent retries)."""
    if not anomalies:
        return WriteResult()
    batch = {anomaly_id(a): a for a in anomalies}
    rows = list(batch.values())
    arrays = [
        list(batch), [clean(a.kind) for a in rows], [clean(a.detector) for a in rows],
        [clean(a.entity) for a in rows], [clean(a.subject) for a in rows],
        naive(a.ts for a in rows), [a.score for a in rows], [a.value for a in rows],
        [a.expected for a in rows], [a.lower for a in rows], [a.upper for a in rows],
        [clean(a.direction) for a in rows], [clean(a.summary) for a in rows],
        [dump_json(a.evidence) for a in rows],
    ]
    with db.write() as con:
        inserted = count(con, _APPEND, arrays)
    return WriteResult(inserted=inserted)


def get_anomaly(db: Database, anomaly_id: str) -> Row | None:
    """One stored anomaly, in the row shape of :data:`ANOMALIES`' pages."""
    with db.read() as con, con.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"{ANOMALIES.page.select} WHERE id = %s", [anomaly_id]).fetchone()
    return ANOMALIES.page.to_row(row) if row else None


def record_verdict(db: Database, verdict: AnomalyVerdict) -> None:
    """Append one verdict; earlier verdicts on the anomaly are kept (an audit trail).
    Under the ``anomaly_verdicts`` lock, so that verdicts become visible in ``seq``
    order (see :func:`false_alarms_after`)."""
    with db.write() as con:
        db.lock(con, "anomaly_verdicts")
        con.execute(
            "INSERT INTO anomaly_verdicts (anomaly_id, ts, verdict, actor, note) "
            "VALUES (%s, %s, %s, %s, %s)",
            [verdict.anomaly_id, to_naive_utc(verdict.ts), verdict.verdict.value,
             clean(verdict.actor), clean(verdict.note)],
        )


def verdicts_of(db: Database, anomaly_ids: Sequence[str]) -> dict[str, list[Row]]:
    """Every verdict on these anomalies, newest first per anomaly (verdicts given at the
    same time in the order recorded, last first); ids without any are left out."""
    if not anomaly_ids:
        return {}
    with db.read() as con:
        rows = con.execute(
            f"{VERDICTS_SELECT} WHERE anomaly_id = ANY(%s::text[]) "
            "ORDER BY anomaly_id, ts DESC, seq DESC",
            [list(anomaly_ids)],
        ).fetchall()
    return group_verdicts(rows)


# ``evidence`` is read as text, which the shared row function parses.
_FALSE_ALARMS = placeholders(FALSE_ALARMS_SELECT.replace("a.evidence", "a.evidence::text"))


def false_alarms_after(db: Database, after: int, limit: int) -> tuple[list[Row], int]:
    """False alarms among the next ``limit`` verdicts after ``seq`` ``after``, oldest
    first, with the highest ``seq`` examined (``after`` when there is none)."""
    with db.read() as con:
        rows = con.execute(_FALSE_ALARMS,
                           [after, max(limit, 0), Verdict.FALSE_ALARM.value]).fetchall()
    return false_alarm_rows(rows, after)
