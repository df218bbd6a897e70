"""Anomalies found by analysis: appended (idempotently, by id) and queried like records;
operators' verdicts on them are appended and read back per anomaly, and the false alarms
among them read in the order recorded (:func:`false_alarms_after`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa

from opscope.model import Anomaly, AnomalyVerdict, Verdict
from opscope.store.duckdb.codec import TS, finite_or_none, iso, to_naive_utc
from opscope.store.duckdb.database import Database
from opscope.store.duckdb.paging import PageSpec
from opscope.store.duckdb.records import RecordTable, derived_id
from opscope.store.ports import Row, WriteResult
from opscope.store.sql.where import Where, invalid

_COLUMNS = (
    "id", "kind", "detector", "entity", "subject", "ts", "score", "value", "expected",
    "lower", "upper", "direction", "summary", "evidence",
)
_FLOATS = ("score", "value", "expected", "lower", "upper")


def anomaly_id(anomaly: Anomaly) -> str:
    return anomaly.id or derived_id(
        anomaly.kind, anomaly.detector, anomaly.entity, anomaly.subject, anomaly.ts.isoformat()
    )


def append_anomalies(db: Database, anomalies: Sequence[Anomaly]) -> WriteResult:
    """Append; an anomaly whose id is already stored is skipped (idempotent retries)."""
    if not anomalies:
        return WriteResult()
    batch = {anomaly_id(a): a for a in anomalies}
    rows = list(batch.values())
    columns: dict[str, pa.Array] = {"id": pa.array(list(batch), type=pa.string())}
    for name in ("kind", "detector", "entity", "subject", "direction", "summary"):
        columns[name] = pa.array([getattr(a, name) for a in rows], type=pa.string())
    for name in _FLOATS:
        columns[name] = pa.array([getattr(a, name) for a in rows], type=pa.float64())
    columns["ts"] = pa.array([a.ts for a in rows], type=TS)
    # Evidence is free-form JSON; non-finite floats become null (JSON has no NaN).
    columns["evidence"] = pa.array(
        [orjson.dumps(a.evidence, option=orjson.OPT_NON_STR_KEYS).decode() for a in rows],
        type=pa.string(),
    )
    with db.write() as con:
        count = db.insert_arrow(
            con,
            f"INSERT INTO anomalies SELECT {', '.join(_COLUMNS)} FROM batch "
            "ON CONFLICT DO NOTHING",
            pa.table(columns),
        )
    return WriteResult(inserted=count)


def evidence(text: str) -> Any:
    """Stored evidence (JSON text; PostgreSQL's ``jsonb`` read as text) as Python values."""
    return orjson.loads(text)


def _anomaly_row(r: dict[str, Any]) -> Row:
    row: Row = {name: r[name] for name in _COLUMNS}
    row["ts"] = iso(r["ts"])
    row["evidence"] = evidence(r["evidence"])
    for name in _FLOATS:
        row[name] = finite_or_none(r[name])
    return row


def _min_score(where: Where, value: str) -> None:
    try:
        where.add("score >= ?", float(value))
    except ValueError:
        raise invalid("extra.min_score", "min_score must be a number") from None


ANOMALIES = RecordTable(
    page=PageSpec("anomalies", f"SELECT {', '.join(_COLUMNS)} FROM anomalies",
                  "ts", "id", str, _anomaly_row),
    kind_column="kind",
    text_columns=("summary", "subject"),
    extra={"detector": "detector", "subject": "subject", "direction": "direction",
           "min_score": _min_score},
)


def get_anomaly(db: Database, anomaly_id: str) -> Row | None:
    """One stored anomaly, in the row shape of :data:`ANOMALIES`' pages."""
    with db.read() as cur:
        result = cur.execute(f"{ANOMALIES.page.select} WHERE id = ?", [anomaly_id])
        names = [d[0] for d in result.description or ()]
        rows = result.fetchall()
    return ANOMALIES.page.to_row(dict(zip(names, rows[0], strict=True))) if rows else None


# --- verdicts ------------------------------------------------------------------------

VERDICTS_SELECT = "SELECT anomaly_id, verdict, ts, actor, note FROM anomaly_verdicts"
"""The columns :func:`group_verdicts` reads, in its order."""


def record_verdict(db: Database, verdict: AnomalyVerdict) -> None:
    """Append one verdict; earlier verdicts on the anomaly are kept (an audit trail)."""
    with db.write() as con:
        con.execute(
            "INSERT INTO anomaly_verdicts (anomaly_id, ts, verdict, actor, note) "
            "VALUES (?, ?, ?, ?, ?)",
            [verdict.anomaly_id, to_naive_utc(verdict.ts), verdict.verdict.value,
             verdict.actor, verdict.note],
        )


def group_verdicts(rows: Sequence[Sequence[Any]]) -> dict[str, list[Row]]:
    """:data:`VERDICTS_SELECT` rows, already newest first per anomaly, by anomaly id."""
    grouped: dict[str, list[Row]] = {}
    for anomaly, verdict, ts, actor, note in rows:
        grouped.setdefault(anomaly, []).append(
            {"anomaly_id": anomaly, "verdict": verdict, "ts": iso(ts), "actor": actor,
             "note": note})
    return grouped


def verdicts_of(db: Database, anomaly_ids: Sequence[str]) -> dict[str, list[Row]]:
    """Every verdict on these anomalies, newest first per anomaly (verdicts given at the
    same time in the order recorded, last first); ids without any are left out."""
    if not anomaly_ids:
        return {}
    with db.read() as cur:
        rows = cur.execute(
            f"{VERDICTS_SELECT} WHERE anomaly_id IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY anomaly_id, ts DESC, seq DESC",
            [list(anomaly_ids)],
        ).fetchall()
    return group_verdicts(rows)


FALSE_ALARMS_SELECT = (
    "WITH examined AS (SELECT seq, anomaly_id, verdict FROM anomaly_verdicts "
    "WHERE seq > ? ORDER BY seq LIMIT ?) "
    "SELECT e.seq, a.id, a.kind, a.subject, a.ts, a.evidence FROM examined e "
    "LEFT JOIN anomalies a ON a.id = e.anomaly_id AND e.verdict = ? ORDER BY e.seq"
)
"""The verdicts :func:`false_alarm_rows` reads, with ``?`` placeholders for ``after``,
``limit`` and the false-alarm verdict: every verdict examined, joined with its anomaly
only when it is a false alarm whose anomaly is still stored (``id`` is null otherwise)."""


def false_alarm_rows(rows: Sequence[Sequence[Any]], after: int) -> tuple[list[Row], int]:
    """:data:`FALSE_ALARMS_SELECT` rows as ``(false alarms, highest seq examined)``."""
    found: list[Row] = []
    last = after
    for seq, anomaly, kind, subject, ts, text in rows:
        last = max(last, seq)
        if anomaly is not None:
            found.append({"seq": seq, "anomaly_id": anomaly, "kind": kind,
                          "subject": subject, "anomaly_ts": iso(ts),
                          "evidence": evidence(text)})
    return found, last


def false_alarms_after(db: Database, after: int, limit: int) -> tuple[list[Row], int]:
    """False alarms among the next ``limit`` verdicts after ``seq`` ``after``, oldest
    first, with the highest ``seq`` examined (``after`` when there is none)."""
    with db.read() as cur:
        rows = cur.execute(FALSE_ALARMS_SELECT,
                           [after, max(limit, 0), Verdict.FALSE_ALARM.value]).fetchall()
    return false_alarm_rows(rows, after)
