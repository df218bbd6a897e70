"""Retention: the embedded store's rules (``opscope.store.duckdb.retention``) on PostgreSQL.

The kinds, their validation and their ``DELETE`` statements are shared; the statements
only need psycopg's placeholders. The deletion takes the advisory locks of the tables
whose writers it must not interleave with (an event fold, a sample batch that found its
series row still there).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.duckdb.retention import OLD_VERDICTS, RULES, check_retention
from opscope.store.postgres.database import Database, count
from opscope.store.postgres.where import placeholders

__all__ = ["apply_retention", "check_retention"]

# A series whose samples have all expired is dropped with them (reported as "series").
_DEAD_SERIES = (
    "DELETE FROM series r WHERE first_ts < %s "
    "AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.series_id = r.series_id)"
)


def apply_retention(db: Database, retention: dict[str, timedelta], now: datetime
                    ) -> dict[str, int]:
    """Delete rows older than their kind's retention in one transaction; counts per kind.
    Verdicts on anomalies go by the ``anomalies`` retention."""
    deleted: dict[str, int] = {}
    if not retention:
        return deleted
    with db.write() as con:
        if "events" in retention or "event_history" in retention:
            db.lock(con, "events")
        if "samples" in retention:
            db.lock(con, "samples")
        for kind, age in retention.items():
            deleted[kind] = count(con, placeholders(RULES[kind]), [to_naive_utc(now - age)])
        if "samples" in retention:
            deleted["series"] = count(
                con, _DEAD_SERIES, [to_naive_utc(now - retention["samples"])]
            )
        if "anomalies" in retention:
            verdicts = count(con, placeholders(OLD_VERDICTS),
                             [to_naive_utc(now - retention["anomalies"])])
            if verdicts:
                deleted["anomaly_verdicts"] = verdicts
    return deleted
