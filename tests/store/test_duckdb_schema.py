"""Schema versions and migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from opscope.errors import StorageError
from opscope.model import AnomalyVerdict, Event, Verdict
from opscope.store.duckdb import DuckDBStore
from opscope.store.duckdb.schema import LATEST, MIGRATIONS, migrate, schema_version
from opscope.store.ports import EventQuery, Store


def test_migrations_are_ordered_and_contiguous() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))


def test_new_database_is_at_the_latest_version(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "a" / "opscope.duckdb") as store:
        assert store.schema_version == LATEST
    con = duckdb.connect(str(tmp_path / "a" / "opscope.duckdb"))
    rows = con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    con.close()
    assert [r[0] for r in rows] == list(range(1, LATEST + 1))


def _v1_database(path: Path) -> None:
    con = duckdb.connect(str(path))
    assert migrate(con, target=1) == 1
    con.execute(
        "INSERT INTO events VALUES (7, 'alertmanager', 'fp1', 'HighLatency', 'firing', "
        "'critical', 'checkout', 'slow', MAP {'env': 'prod'}, MAP {}, "
        "TIMESTAMP '2024-01-01 00:00:00', NULL, TIMESTAMP '2024-01-01 00:00:05', "
        "TIMESTAMP '2024-01-01 00:10:00', 3, 0)"
    )
    con.close()


def test_v1_database_opens_under_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _v1_database(path)
    con = duckdb.connect(str(path))
    assert schema_version(con) == 1
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'tokens'"
                       ).fetchall() == [(0,)]
    con.close()

    with DuckDBStore(path) as store:
        assert store.schema_version == LATEST
        row = store.get_event("alertmanager", "fp1")
        assert row is not None and row["repeat_count"] == 3 and row["labels"] == {"env": "prod"}
        # The v2 migration backfilled one history row per existing event.
        history = store.event_history("alertmanager", "fp1").items
        assert [h["received_at"] for h in history] == ["2024-01-01T00:10:00Z"]
        # Tables added after v1 work, and new events get a seq after the migrated one.
        store.add_token("t", "d", [], "n")
        store.upsert_events([Event(source="s", name="n", starts_at=datetime(2024, 1, 1))])
        items = store.query_events(EventQuery()).items
        assert [i["fingerprint"] for i in items][1] == "fp1"


def test_v6_database_gains_the_verdicts_table(tmp_path: Path) -> None:
    path = tmp_path / "v6.duckdb"
    con = duckdb.connect(str(path))
    assert migrate(con, target=6) == 6
    con.execute(
        "INSERT INTO anomalies VALUES ('a-1', 'metric', 'robust_z', 'checkout', 's1', "
        "TIMESTAMP '2024-01-01 00:00:00', 4.0, 9.0, 1.0, 0.0, 2.0, 'up', 'spike', '{}')"
    )
    con.close()

    with DuckDBStore(path) as store:
        assert store.schema_version == LATEST
        row = store.get_anomaly("a-1")
        assert row is not None and row["ts"] == "2024-01-01T00:00:00Z"
        store.record_verdict(AnomalyVerdict(anomaly_id="a-1", verdict=Verdict.FALSE_ALARM,
                                            ts=datetime(2024, 1, 2, tzinfo=UTC)))
        assert [v["verdict"] for v in store.anomaly_verdicts(["a-1"])["a-1"]] == [
            "false_alarm"]
    con = duckdb.connect(str(path))
    rows = con.execute("SELECT version, description FROM schema_version WHERE version = 7"
                       ).fetchall()
    con.close()
    assert rows == [(7, "operators' verdicts on anomalies")]


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    DuckDBStore(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (?, 'from the future', now()::TIMESTAMP)",
                [LATEST + 1])
    con.close()
    with pytest.raises(StorageError, match="newer"):
        DuckDBStore(path)


def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    with DuckDBStore(path) as store:
        store.add_token("t", "d", ["read"], "n")
    with DuckDBStore(path) as store:
        assert store.find_token("d") is not None


def test_close_is_idempotent_and_later_calls_fail() -> None:
    store = DuckDBStore(":memory:")
    store.close()
    store.close()
    with pytest.raises(StorageError):
        store.list_tokens()
    with pytest.raises(StorageError):
        store.add_token("t", "d", [], "n")


def test_duckdb_store_implements_the_store_port() -> None:
    store: Store = DuckDBStore(None)  # checked by mypy against the Protocol
    assert isinstance(store, DuckDBStore)
    store.close()
