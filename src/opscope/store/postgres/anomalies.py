"""Anomalies found by analysis: appended (idempotently, by id) and queried like records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from opscope.model import Anomaly
from opscope.store.duckdb.anomalies import ANOMALIES as _ANOMALIES
from opscope.store.duckdb.anomalies import anomaly_id
from opscope.store.ports import WriteResult
from opscope.store.postgres.codec import clean, dump_json, naive
from opscope.store.postgres.database import Database, count, unnest

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
