"""Retention: how long each kind of data is kept, and the deletion that enforces it.

Ages are measured in event time against the ``now`` passed to ``apply_retention`` (so a
replay of old data is not deleted as it is loaded, unless the caller asks for it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from opscope.errors import ConfigError
from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.duckdb.database import Database, count

# Kind -> the DELETE that drops rows older than the cutoff (one bound parameter).
# Events go by when they were last seen, so an alert still being re-sent is kept;
# tickets only once resolved, so an old ticket that is still open is kept.
RULES: dict[str, str] = {
    "events": "DELETE FROM events WHERE last_seen < ?",
    "event_history": "DELETE FROM event_history WHERE received_at < ?",
    "logs": "DELETE FROM logs WHERE ts < ?",
    "samples": "DELETE FROM samples WHERE ts < ?",
    "anomalies": "DELETE FROM anomalies WHERE ts < ?",
    "changes": "DELETE FROM changes WHERE ts < ?",
    "tickets": "DELETE FROM tickets WHERE resolved_at IS NOT NULL AND resolved_at < ?",
}


def check_retention(retention: dict[str, timedelta] | None) -> dict[str, timedelta]:
    """Validated retention; ``event_history`` follows ``events`` unless set on its own."""
    settings = dict(retention or {})
    for kind, age in settings.items():
        if kind not in RULES:
            raise ConfigError(
                f"retention.{kind}: unknown kind; use one of {', '.join(RULES)}"
            )
        if not isinstance(age, timedelta) or age <= timedelta(0):
            raise ConfigError(f"retention.{kind}: must be a positive duration")
    if "events" in settings and "event_history" not in settings:
        settings["event_history"] = settings["events"]
    return settings


# A series whose samples have all expired is dropped with them (reported as "series").
_DEAD_SERIES = (
    "DELETE FROM series WHERE first_ts < ? "
    "AND series_id NOT IN (SELECT DISTINCT series_id FROM samples)"
)

# Operators' verdicts follow the ``anomalies`` retention, aged by when they were given
# (reported as "anomaly_verdicts" when any went).
OLD_VERDICTS = "DELETE FROM anomaly_verdicts WHERE ts < ?"


def apply_retention(
    db: Database,
    retention: dict[str, timedelta],
    now: datetime,
    series_deleted: Callable[[], None],
    events_deleted: Callable[[], None] = lambda: None,
) -> dict[str, int]:
    """Delete rows older than their kind's retention in one transaction; counts per kind.

    Verdicts on anomalies go by the ``anomalies`` retention. ``series_deleted`` and
    ``events_deleted`` are called inside the transaction when series or event rows went,
    so that a writer's cache of stored rows is dropped before any other writer can rely
    on it.
    """
    deleted: dict[str, int] = {}
    if not retention:
        return deleted
    with db.write() as con:
        for kind, age in retention.items():
            deleted[kind] = count(con, RULES[kind], [to_naive_utc(now - age)])
        if "samples" in retention:
            deleted["series"] = count(
                con, _DEAD_SERIES, [to_naive_utc(now - retention["samples"])]
            )
            if deleted["series"]:
                series_deleted()
        if "anomalies" in retention:
            verdicts = count(con, OLD_VERDICTS, [to_naive_utc(now - retention["anomalies"])])
            if verdicts:
                deleted["anomaly_verdicts"] = verdicts
        if deleted.get("events"):
            events_deleted()
    return deleted
