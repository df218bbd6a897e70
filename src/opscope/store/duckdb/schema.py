"""The versioned schema of the embedded store.

``MIGRATIONS`` is an ordered list; migration *n* turns a version *n-1* database into a
version *n* one. Opening a database applies the missing migrations, each in its own
transaction together with its ``schema_version`` row, so a crash mid-migration leaves
the file at the previous version rather than half-migrated. Released migrations are
never edited: a schema change is a new entry at the end of the list.

Timestamps are ``TIMESTAMP`` columns holding UTC. Tables that are paged by time carry a
``seq`` column (assigned by the store, unique per table) as the keyset tiebreaker, since
DuckDB's ``rowid`` may change when deleted rows are compacted away.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from opscope.errors import StorageError
from opscope.model.base import now_utc
from opscope.store.duckdb.codec import to_naive_utc


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def _sql(*statements: str) -> Callable[[duckdb.DuckDBPyConnection], None]:
    def run(con: duckdb.DuckDBPyConnection) -> None:
        for statement in statements:
            con.execute(statement)

    return run


_V1 = _sql(
    """
    CREATE TABLE events (
        seq BIGINT NOT NULL,
        source VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        severity VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        summary VARCHAR NOT NULL,
        labels MAP(VARCHAR, VARCHAR) NOT NULL,
        annotations MAP(VARCHAR, VARCHAR) NOT NULL,
        starts_at TIMESTAMP NOT NULL,
        ends_at TIMESTAMP,
        first_seen TIMESTAMP NOT NULL,
        last_seen TIMESTAMP NOT NULL,
        repeat_count INTEGER NOT NULL,
        reopen_count INTEGER NOT NULL,
        PRIMARY KEY (source, fingerprint)
    )
    """,
    # Logs are the largest table: no index (an ART index would slow every append); DuckDB's
    # per-row-group min/max on ts prunes time-range scans since logs arrive roughly in order.
    """
    CREATE TABLE logs (
        seq BIGINT NOT NULL,
        ts TIMESTAMP NOT NULL,
        received_at TIMESTAMP NOT NULL,
        source VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        level VARCHAR NOT NULL,
        message VARCHAR NOT NULL,
        attributes JSON NOT NULL,
        template_id VARCHAR,
        params VARCHAR[] NOT NULL
    )
    """,
    """
    CREATE TABLE series (
        series_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        labels MAP(VARCHAR, VARCHAR) NOT NULL,
        entity VARCHAR NOT NULL,
        first_ts TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE samples (
        series_id VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        value DOUBLE
    )
    """,
    """
    CREATE TABLE tickets (
        id VARCHAR PRIMARY KEY,
        title VARCHAR NOT NULL,
        description VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        priority VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        resolved_at TIMESTAMP,
        resolution VARCHAR NOT NULL,
        labels MAP(VARCHAR, VARCHAR) NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE changes (
        id VARCHAR PRIMARY KEY,
        entity VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        author VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        description VARCHAR NOT NULL,
        labels MAP(VARCHAR, VARCHAR) NOT NULL,
        received_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE entities (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        labels MAP(VARCHAR, VARCHAR) NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE relations (
        source VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (source, target, kind)
    )
    """,
    """
    CREATE TABLE anomalies (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,
        detector VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        subject VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        score DOUBLE NOT NULL,
        value DOUBLE,
        expected DOUBLE,
        lower DOUBLE,
        upper DOUBLE,
        direction VARCHAR NOT NULL,
        summary VARCHAR NOT NULL,
        evidence JSON NOT NULL
    )
    """,
)

_V2 = _sql(
    # Every notification as received: the alert history. Existing events get one row
    # each, their last known state at the time they were last seen.
    """
    CREATE TABLE event_history (
        seq BIGINT NOT NULL,
        source VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        severity VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        summary VARCHAR NOT NULL,
        labels MAP(VARCHAR, VARCHAR) NOT NULL,
        annotations MAP(VARCHAR, VARCHAR) NOT NULL,
        starts_at TIMESTAMP NOT NULL,
        ends_at TIMESTAMP,
        received_at TIMESTAMP NOT NULL
    )
    """,
    """
    INSERT INTO event_history
    SELECT row_number() OVER (ORDER BY last_seen, seq), source, fingerprint, name, status,
           severity, entity, summary, labels, annotations, starts_at, ends_at, last_seen
    FROM events
    """,
    # API tokens: only the digest of a secret is ever stored.
    """
    CREATE TABLE tokens (
        token_id VARCHAR PRIMARY KEY,
        digest VARCHAR NOT NULL UNIQUE,
        name VARCHAR NOT NULL,
        scopes VARCHAR[] NOT NULL,
        created_at TIMESTAMP NOT NULL,
        revoked_at TIMESTAMP
    )
    """,
)

_V3 = _sql(
    # Log templates found by log analysis. A template merged into another one keeps its
    # row with ``merged_into`` set, so that ids handed out earlier still resolve.
    """
    CREATE TABLE log_templates (
        template_id VARCHAR PRIMARY KEY,
        template VARCHAR NOT NULL,
        examples VARCHAR[] NOT NULL,
        merged_into VARCHAR,
        first_seen TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )
    """,
    # Lines per template, entity and level in fixed event-time buckets: the statistics
    # are read from here rather than by scanning the logs table.
    """
    CREATE TABLE log_template_counts (
        template_id VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        level VARCHAR NOT NULL,
        bucket TIMESTAMP NOT NULL,
        count BIGINT NOT NULL,
        first_ts TIMESTAMP NOT NULL,
        last_ts TIMESTAMP NOT NULL,
        PRIMARY KEY (template_id, entity, level, bucket)
    )
    """,
    # How far log analysis got (the last analysed ``logs.seq``), committed together with
    # its results so that a restart neither skips nor counts a line twice.
    """
    CREATE TABLE log_analysis (
        name VARCHAR PRIMARY KEY,
        seq BIGINT NOT NULL
    )
    """,
)

_V4 = _sql(
    # What metric detectors expected of each series (at most one point per band step and
    # series, written by metric analysis), so that charts can draw the band.
    """
    CREATE TABLE metric_bands (
        series_id VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        expected DOUBLE NOT NULL,
        lower DOUBLE,
        upper DOUBLE
    )
    """,
)

_V5 = _sql(
    # Incidents as the correlation engine last published them: the snapshot as JSON plus
    # the columns the list filters and pages on.
    """
    CREATE TABLE incidents (
        id VARCHAR PRIMARY KEY,
        status VARCHAR NOT NULL,
        severity VARCHAR NOT NULL,
        title VARCHAR NOT NULL,
        opened_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        resolved_at TIMESTAMP,
        entities VARCHAR[] NOT NULL,
        doc JSON NOT NULL
    )
    """,
    """
    CREATE TABLE incident_members (
        incident_id VARCHAR NOT NULL,
        signal_id VARCHAR NOT NULL,
        joined_at TIMESTAMP NOT NULL,
        muted BOOLEAN NOT NULL,
        doc JSON NOT NULL,
        PRIMARY KEY (incident_id, signal_id)
    )
    """,
    """
    CREATE TABLE incident_timeline (
        seq BIGINT NOT NULL,
        incident_id VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        kind VARCHAR NOT NULL,
        summary VARCHAR NOT NULL,
        signal_id VARCHAR,
        data JSON NOT NULL
    )
    """,
    # The latest ranking of each incident's root causes, one row per hypothesis.
    """
    CREATE TABLE incident_hypotheses (
        incident_id VARCHAR NOT NULL,
        rank INTEGER NOT NULL,
        ranked_at TIMESTAMP NOT NULL,
        entity VARCHAR NOT NULL,
        doc JSON NOT NULL,
        PRIMARY KEY (incident_id, rank)
    )
    """,
    # Operator actions (ack, resolve, merge, split) as an audit trail, and the merge and
    # split feedback learned correlation uses.
    """
    CREATE TABLE incident_actions (
        seq BIGINT NOT NULL,
        ts TIMESTAMP NOT NULL,
        action VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        incident_ids VARCHAR[] NOT NULL,
        doc JSON NOT NULL
    )
    """,
    """
    CREATE TABLE silences (
        id VARCHAR PRIMARY KEY,
        starts_at TIMESTAMP NOT NULL,
        ends_at TIMESTAMP NOT NULL,
        created_by VARCHAR NOT NULL,
        doc JSON NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )
    """,
    # The correlation engine's saved state (versioned JSON), one row per engine.
    """
    CREATE TABLE correlation_state (
        name VARCHAR PRIMARY KEY,
        data BLOB NOT NULL,
        saved_at TIMESTAMP NOT NULL
    )
    """,
)

_V6 = _sql(
    # Automated reactions. Every execution (the audit record) with the columns the list
    # filters and pages on; ``seq`` is the keyset tiebreaker.
    """
    CREATE TABLE react_executions (
        seq BIGINT NOT NULL,
        id VARCHAR PRIMARY KEY,
        rule VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        subject VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        doc JSON NOT NULL
    )
    """,
    # Actions held for approval, as their last state.
    """
    CREATE TABLE react_approvals (
        id VARCHAR PRIMARY KEY,
        state VARCHAR NOT NULL,
        requested_at TIMESTAMP NOT NULL,
        doc JSON NOT NULL
    )
    """,
    # The notification log: a delivery key is claimed before sending and marked after,
    # so a restarted engine never delivers the same key twice.
    """
    CREATE TABLE react_notifications (
        key VARCHAR PRIMARY KEY,
        state VARCHAR NOT NULL,
        doc JSON NOT NULL
    )
    """,
    # Small per-key memory of actions, e.g. the Slack message an incident is posted as.
    """
    CREATE TABLE react_action_state (
        key VARCHAR PRIMARY KEY,
        value JSON NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )
    """,
)

_V7 = _sql(
    # Operators' verdicts on anomalies (false alarm, confirmed), every one kept: an audit
    # trail and the labels evaluation and learning read. ``seq`` orders verdicts given at
    # the same time.
    """
    CREATE SEQUENCE anomaly_verdicts_seq
    """,
    # A sequence (not numbering in Python) so that numbers are never given twice, even
    # after retention removed the newest verdicts: analysis reads them by a saved cursor.
    """
    CREATE TABLE anomaly_verdicts (
        seq BIGINT NOT NULL DEFAULT nextval('anomaly_verdicts_seq'),
        anomaly_id VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        verdict VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        note VARCHAR NOT NULL
    )
    """,
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events, logs, metrics, tickets, changes, topology, anomalies", _V1),
    Migration(2, "event history and API tokens", _V2),
    Migration(3, "log templates, their counts and log analysis progress", _V3),
    Migration(4, "expected bands of metric series", _V4),
    Migration(5, "incidents, members, timeline, hypotheses, operator actions, silences", _V5),
    Migration(6, "reaction audit, approvals, notification log and action state", _V6),
    Migration(7, "operators' verdicts on anomalies", _V7),
)

LATEST = MIGRATIONS[-1].version


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The version of the open database; 0 for an empty one."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version'"
    ).fetchall()
    if not exists[0][0]:
        return 0
    rows = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()
    return int(rows[0][0])


def migrate(con: duckdb.DuckDBPyConnection, target: int = LATEST) -> int:
    """Bring the database up to ``target`` (default: the latest version); return it."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, description VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL)"
    )
    current = schema_version(con)
    if current > LATEST:
        raise StorageError(
            f"the database is at schema version {current}, newer than this opscope "
            f"understands ({LATEST}); upgrade opscope to open it"
        )
    for migration in MIGRATIONS:
        if current < migration.version <= target:
            con.begin()
            try:
                migration.apply(con)
                con.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    [migration.version, migration.description, to_naive_utc(now_utc())],
                )
            except BaseException:
                con.rollback()
                raise
            con.commit()
            current = migration.version
    return current
