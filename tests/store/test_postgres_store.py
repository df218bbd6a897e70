"""What the PostgreSQL store must do beyond the tests both stores share: all-or-nothing
batches, versioned migrations run once however many processes open the database, and
several stores writing one database at the same time."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from pg_server import DatabasePool, PgServer
from store_backends import AnyStore
from store_clock import T0, ManualClock

from opscope.errors import ConfigError, StorageError
from opscope.model import (
    Anomaly,
    AnomalyVerdict,
    Change,
    Entity,
    Event,
    LogRecord,
    MetricSample,
    Relation,
    Ticket,
    Verdict,
    series_id,
)
from opscope.model.execution import ApprovalRequest, Execution, ExecutionStatus
from opscope.store.duckdb import DuckDBStore
from opscope.store.ports import (
    EventQuery,
    LabelMatcher,
    LogQuery,
    RecordQuery,
    SeriesQuery,
    Store,
    TemplateQuery,
    TimeRange,
)
from opscope.store.postgres import PostgresStore
from opscope.store.postgres import events as events_module
from opscope.store.postgres import metrics as metrics_module
from opscope.store.postgres.database import _LOCK_KEYS, Database
from opscope.store.postgres.schema import LATEST, LOCK_CLASS, MIGRATIONS, migrate


@pytest.fixture
def dsn(pg_databases: DatabasePool) -> Iterator[str]:
    """An empty, migrated-on-open database, emptied again afterwards."""
    target = pg_databases.take()
    yield target
    pg_databases.give_back(target)


@pytest.fixture
def fresh_dsn(pg_databases: DatabasePool) -> str:
    """A database with no schema at all (not reused: the tests change its schema)."""
    return pg_databases.server.new_database()


@pytest.fixture
def store(dsn: str) -> Iterator[PostgresStore]:
    with PostgresStore(dsn, pool_size=4) as s:
        yield s


def test_postgres_store_implements_the_store_port(store: PostgresStore) -> None:
    port: Store = store  # checked by mypy against the Protocol
    assert port.schema_version == LATEST


# --- one transaction per batch -----------------------------------------------------------


def test_failed_event_batch_is_rolled_back(store: PostgresStore,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    event = Event(source="am", name="A", starts_at=T0)
    # Fails after the events upsert ran, like a full disk would.
    monkeypatch.setattr(events_module, "_APPEND_HISTORY", events_module._APPEND_HISTORY.replace(
        "INTO event_history", "INTO event_history_gone"))
    with pytest.raises(StorageError) as err:
        store.upsert_events([event])
    assert err.value.retryable
    monkeypatch.undo()
    assert store.get_event("am", event.fingerprint) is None
    assert store.upsert_events([event]).inserted == 1
    row = store.get_event("am", event.fingerprint)
    assert row is not None and row["repeat_count"] == 0
    assert len(store.event_history("am", event.fingerprint).items) == 1


def test_failed_sample_batch_stores_no_series(store: PostgresStore,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    batch = [MetricSample(name="up", labels={"job": "api"}, value=1, ts=T0)]
    # The series rows are inserted, then the samples fail.
    monkeypatch.setattr(metrics_module, "_COPY_SAMPLES", metrics_module._COPY_SAMPLES
                        .replace("COPY samples", "COPY samples_gone"))
    with pytest.raises(StorageError):
        store.append_samples(batch)
    monkeypatch.undo()
    assert store.list_series(None, [], 10) == []
    store.append_samples(batch)
    rows = store.query_series(SeriesQuery(name="up"))
    assert [(r["labels"], len(r["points"])) for r in rows] == [({"job": "api"}, 1)]


class _Spy:
    """A connection that reads through the store after each statement it runs."""

    def __init__(self, con: Any, after: Any) -> None:
        self._con, self._after = con, after

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        result = self._con.execute(*args, **kwargs)
        self._after()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_reads_see_only_committed_batches(store: PostgresStore,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = Database.write

    @contextlib.contextmanager
    def write(self: Database) -> Iterator[Any]:
        with real(self) as con:
            yield _Spy(con, lambda: seen.append(len(store.query_events(EventQuery()).items)))

    monkeypatch.setattr(Database, "write", write)
    store.upsert_events([Event(source="am", name="A", starts_at=T0)])
    monkeypatch.undo()
    assert seen and set(seen) == {0}  # the lock, the read, the upsert, the history
    assert len(store.query_events(EventQuery()).items) == 1


# --- schema versions ---------------------------------------------------------------------


def test_migrations_are_ordered_and_contiguous() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))


def test_every_schema_version_is_recorded(dsn: str) -> None:
    with PostgresStore(dsn) as store:
        assert store.schema_version == LATEST
    with psycopg.connect(dsn) as con:
        rows = con.execute("SELECT version, description FROM schema_version "
                           "ORDER BY version").fetchall()
    assert rows == [(m.version, m.description) for m in MIGRATIONS]
    with PostgresStore(dsn) as store:  # opening again applies nothing
        assert store.schema_version == LATEST


def test_a_version_1_database_opens_under_the_current_version(fresh_dsn: str) -> None:
    with psycopg.connect(fresh_dsn, autocommit=True) as con:
        assert migrate(con, target=1) == 1
        con.execute(
            "INSERT INTO events (seq, source, fingerprint, name, status, severity, entity, "
            "summary, labels, annotations, starts_at, ends_at, first_seen, last_seen, "
            "repeat_count, reopen_count) VALUES (7, 'alertmanager', 'fp1', 'HighLatency', "
            "'firing', 'critical', 'checkout', 'slow', '{\"env\": \"prod\"}', '{}', "
            "'2024-01-01 00:00:00', NULL, '2024-01-01 00:00:05', '2024-01-01 00:10:00', 3, 0)")
        assert con.execute("SELECT to_regclass('tokens')").fetchone() == (None,)
    with PostgresStore(fresh_dsn) as store:
        assert store.schema_version == LATEST
        row = store.get_event("alertmanager", "fp1")
        assert row is not None and row["repeat_count"] == 3 and row["labels"] == {"env": "prod"}
        history = store.event_history("alertmanager", "fp1").items
        assert [h["received_at"] for h in history] == ["2024-01-01T00:10:00Z"]
        store.add_token("t", "d", [], "n")
        store.append_bands([("a", T0, 1.0, 0.0, 2.0)])  # a table of version 4
        assert store.query_bands(["a"], TimeRange())["a"] != []


def test_a_version_6_database_gains_the_verdicts_table(fresh_dsn: str) -> None:
    with psycopg.connect(fresh_dsn, autocommit=True) as con:
        assert migrate(con, target=6) == 6
        con.execute(
            "INSERT INTO anomalies VALUES ('a-1', 'metric', 'robust_z', 'checkout', 's1', "
            "'2024-01-01 00:00:00', 4.0, 9.0, 1.0, 0.0, 2.0, 'up', 'spike', '{}')")
        assert con.execute("SELECT to_regclass('anomaly_verdicts')").fetchone() == (None,)
    with PostgresStore(fresh_dsn) as store:
        assert store.schema_version == LATEST
        row = store.get_anomaly("a-1")
        assert row is not None and row["ts"] == "2024-01-01T00:00:00Z"
        store.record_verdict(AnomalyVerdict(anomaly_id="a-1", verdict=Verdict.FALSE_ALARM,
                                            ts=T0))
        assert [v["verdict"] for v in store.anomaly_verdicts(["a-1"])["a-1"]] == [
            "false_alarm"]
    with psycopg.connect(fresh_dsn) as con:
        indexes = {r[0] for r in con.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'anomaly_verdicts'")}
    assert indexes == {"anomaly_verdicts_anomaly", "anomaly_verdicts_ts", "anomaly_verdicts_seq"}


def test_a_newer_database_is_refused(dsn: str) -> None:
    PostgresStore(dsn).close()
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("INSERT INTO schema_version VALUES (%s, 'from the future', now())",
                    [LATEST + 1])
    try:
        with pytest.raises(StorageError, match="newer"):
            PostgresStore(dsn)
    finally:
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute("DELETE FROM schema_version WHERE version > %s", [LATEST])


def test_stores_opened_at_once_on_a_new_database_migrate_it_once(fresh_dsn: str) -> None:
    start = threading.Barrier(4)
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        start.wait(timeout=10)
        try:
            opened.append(PostgresStore(fresh_dsn, pool_size=2))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    try:
        assert errors == []
        assert [s.schema_version for s in opened] == [LATEST] * 4
        with psycopg.connect(fresh_dsn) as con:
            assert con.execute("SELECT count(*) FROM schema_version").fetchone() == (LATEST,)
    finally:
        for s in opened:
            s.close()


# --- several stores on one database --------------------------------------------------------

WRITERS, READERS, BATCHES, ROWS = 4, 2, 6, 40


def test_two_stores_write_and_read_one_database_at_once(dsn: str) -> None:
    """Two stores on one database stand for two opscope processes: their batches
    interleave, yet every fold of a shared event counts, every log row gets its own
    ``seq`` and analysis reading by ``seq`` sees every row."""
    first, second = PostgresStore(dsn, pool_size=4), PostgresStore(dsn, pool_size=4)
    shared = Event(source="am", name="Shared", starts_at=T0)
    errors: list[BaseException] = []
    done = threading.Event()
    seen_counts: list[list[int]] = [[] for _ in range(READERS)]

    def write(n: int) -> None:
        store = (first, second)[n % 2]
        try:
            for b in range(BATCHES):
                store.append_logs([
                    LogRecord(ts=T0 + timedelta(seconds=b * ROWS + i), message=f"{n}-{b}-{i}",
                              entity=f"w{n}")
                    for i in range(ROWS)
                ])
                store.upsert_events([shared, Event(source="am", name=f"W{n}", starts_at=T0)])
                store.append_samples([
                    MetricSample(name="load", labels={"writer": str(n)}, value=float(b),
                                 ts=T0 + timedelta(seconds=b))
                ])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def read(n: int) -> None:
        store = (first, second)[n % 2]
        try:
            while not done.is_set():
                page = store.query_logs(LogQuery(entity=f"w{n % WRITERS}", limit=1000))
                seen_counts[n].append(len(page.items))
                store.query_events(EventQuery(text="shared"))
                store.query_series(SeriesQuery(name="load", step_seconds=5, agg="max"))
                time.sleep(0.005)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    readers = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
    try:
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join(timeout=60)
        done.set()
        for t in readers:
            t.join(timeout=60)

        assert errors == []
        for n in range(WRITERS):
            items = second.query_logs(LogQuery(entity=f"w{n}", limit=1000)).items
            assert len(items) == BATCHES * ROWS
        rows = first.logs_after(0, 100_000)
        assert [seq for seq, _ in rows] == list(range(1, WRITERS * BATCHES * ROWS + 1))
        row = second.get_event("am", shared.fingerprint)
        assert row is not None and row["repeat_count"] == WRITERS * BATCHES - 1
        assert len(first.query_events(EventQuery()).items) == WRITERS + 1
        assert len(first.query_series(SeriesQuery(name="load"))) == WRITERS
        for counts in seen_counts:
            assert counts == sorted(counts)
            assert all(c % ROWS == 0 for c in counts)
    finally:
        first.close()
        second.close()



def test_false_alarms_read_by_seq_miss_no_verdict_committed_late(dsn: str) -> None:
    """A verdict recorded while another process's verdict (an earlier ``seq``) is still
    uncommitted waits for it, so a reader resuming after the last ``seq`` it saw never
    skips a verdict that becomes visible later with a smaller one."""
    with PostgresStore(dsn, pool_size=4) as store, psycopg.connect(dsn) as other:
        store.append_anomalies([Anomaly(id=f"a-{i}", kind="metric", ts=T0) for i in (1, 2)])
        # Another process, mid-way through recording a verdict (as ``record_verdict`` does).
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                      [LOCK_CLASS, _LOCK_KEYS["anomaly_verdicts"]])
        other.execute("INSERT INTO anomaly_verdicts (anomaly_id, ts, verdict, actor, note) "
                      "VALUES ('a-1', %s, 'false_alarm', '', '')", [T0.replace(tzinfo=None)])
        late = threading.Thread(target=store.record_verdict, args=(AnomalyVerdict(
            anomaly_id="a-2", verdict=Verdict.FALSE_ALARM, ts=T0),))
        late.start()
        time.sleep(0.3)
        assert late.is_alive()  # waiting for the earlier verdict's transaction
        assert store.false_alarms_after(0, 10) == ([], 0)
        other.commit()
        late.join(timeout=10)
        rows, cursor = store.false_alarms_after(0, 10)
        assert [r["anomaly_id"] for r in rows] == ["a-1", "a-2"] and cursor == rows[-1]["seq"]

# --- the boundary --------------------------------------------------------------------------


def test_an_unreachable_database_is_a_storage_error(pg_databases: DatabasePool) -> None:
    server = pg_databases.server
    with pytest.raises(StorageError, match="cannot open"):
        PostgresStore(server.dsn("no_such_database"))


def test_a_bad_pool_size_is_a_config_error(dsn: str) -> None:
    with pytest.raises(ConfigError, match="pool_size"):
        PostgresStore(dsn, pool_size=0)


def test_close_is_idempotent_and_later_calls_fail(dsn: str) -> None:
    store = PostgresStore(dsn)
    store.close()
    store.close()
    with pytest.raises(StorageError):
        store.list_tokens()
    with pytest.raises(StorageError):
        store.add_token("t", "d", [], "n")


def test_text_postgresql_cannot_hold_is_stored_with_a_replacement(store: PostgresStore) -> None:
    # PostgreSQL refuses the NUL character in text and JSONB; a log line holding one must
    # not fail its whole batch.
    store.append_logs([LogRecord(ts=T0, message="a\x00b", attributes={"k": "v\x00"})])
    [row] = store.query_logs(LogQuery()).items
    assert row["message"] == "a\ufffdb" and row["attributes"] == {"k": "v\ufffd"}


def test_reaction_documents_postgresql_cannot_hold_are_stored(store: PostgresStore) -> None:
    # An execution whose output or result holds a NUL, or a result keyed by a number,
    # must still reach the audit log; so must approvals, notifications and action state.
    tables = store.reactions
    run = Execution(id="e1", rule="r", action="a", action_kind="webhook",
                    trigger_kind="event", subject="s\x00", status=ExecutionStatus.SUCCEEDED,
                    started_at=T0, finished_at=T0, output="a\x00b", result={"k": "v\x00"})
    tables.audit.record(run)
    got = tables.audit.get("e1")
    assert got is not None and got.output == "a\ufffdb" and got.result == {"k": "v\ufffd"}
    request = ApprovalRequest(id="ap1", rule="r\x00", action="a", requested_at=T0,
                              expires_at=T0 + timedelta(minutes=5))
    tables.approvals.put(request)
    approval = tables.approvals.get("ap1")
    assert approval is not None and approval.rule == "r\ufffd"
    assert tables.notifications.claim("k", T0) is None
    tables.notifications.complete("k", T0, {"reply": "x\x00", "n": {1: "one"}})
    entry = tables.notifications.get("k")
    assert entry is not None and entry.detail == {"reply": "x\ufffd", "n": {"1": "one"}}
    tables.state.save("s", {"ts": "1\x00", 2: "two"})
    assert tables.state.load("s") == {"ts": "1\ufffd", "2": "two"}


def test_every_text_column_is_stored_with_a_replacement_for_nul(store: PostgresStore) -> None:
    # A NUL in any text column, not only in some, must not fail its whole batch.
    store.upsert_topology([Entity(id="svc", kind="ser\x00vice", name="na\x00me")], [])
    [entity] = store.topology()[0]
    assert entity["kind"] == "ser\ufffdvice" and entity["name"] == "na\ufffdme"
    event = Event(source="a\x00m", fingerprint="f\x00p", name="A", starts_at=T0)
    assert store.upsert_events([event]).inserted == 1
    assert store.upsert_events([event]).updated == 1
    row = store.get_event("a\ufffdm", "f\ufffdp")
    assert row is not None and row["repeat_count"] == 1
    store.add_token("t", "d", ["read"], "n\x00ame")
    assert [t["name"] for t in store.list_tokens()] == ["n\ufffdame"]
    assert store.append_changes([Change(entity="svc", kind="de\x00ploy", ts=T0)]).inserted == 1
    [change] = store.query_changes(RecordQuery()).items
    assert change["kind"] == "de\ufffdploy"
    store.append_anomalies([Anomaly(kind="metric", detector="z\x00", direction="u\x00p",
                                    subject="s", ts=T0, score=1.0)])
    [anomaly] = store.query_anomalies(RecordQuery()).items
    assert anomaly["detector"] == "z\ufffd" and anomaly["direction"] == "u\ufffdp"


def test_a_batch_the_database_rejects_is_not_retryable(dsn: str) -> None:
    db = Database(dsn)
    try:
        with pytest.raises(StorageError) as err, db.write() as con:
            con.execute("SELECT 1 / 0")
        assert "rejected" in err.value.message and "division by zero" in err.value.message
        assert not err.value.retryable
        with db.write() as con:
            con.execute("CREATE TABLE once (k int PRIMARY KEY)")
        with pytest.raises(StorageError) as err, db.write() as con:
            con.execute("INSERT INTO once VALUES (1), (1)")
        assert "rejected" in err.value.message and "duplicate key" in err.value.message
        assert not err.value.retryable
        with pytest.raises(StorageError) as err, db.write() as con:
            con.execute("SELECT * FROM no_such_table")
        assert "could not commit" in err.value.message and err.value.retryable
    finally:
        db.close()


# --- the same answers as the embedded store ------------------------------------------------


def _workload(store: AnyStore) -> None:
    at = [T0 + timedelta(seconds=s) for s in range(0, 600, 37)]
    store.upsert_events([
        Event(source="am", name=f"A{i % 4}", severity=("critical", "warning")[i % 2],
              status=("firing", "resolved")[i % 3 == 2], starts_at=t, entity=f"svc{i % 3}",
              labels={"env": ("prod", "dev")[i % 2], "n": str(i % 4)}, summary=f"s {i}")
        for i, t in enumerate(at)])
    store.append_logs([LogRecord(ts=t, message=f"{('login', 'logout')[i % 2]} user{i}",
                                 entity=f"svc{i % 3}", level=("info", "error")[i % 2],
                                 attributes={"i": str(i)}) for i, t in enumerate(at)])
    store.append_samples([MetricSample(name="cpu", labels={"host": f"h{i % 3}"},
                                       value=float(i) if i % 5 else math.nan, ts=t)
                          for i, t in enumerate(at)])
    rows = [(seq, r.model_copy(update={"template_id": "T" + r.message.split()[0],
                                       "params": r.message.split()[1:]}))
            for seq, r in store.logs_after(0, 1000)]
    store.record_log_analysis(rows[-1][0], rows, {"Tlogin": "login <*>",
                                                  "Tlogout": "logout <*>"}, {})
    store.record_log_analysis(rows[-1][0], [], {}, {"Tlogout": "Tlogin"})
    store.append_anomalies([Anomaly(kind="metric", subject=series_id("cpu", {"host": "h1"}),
                                    entity="svc1", ts=t, score=0.5 + i / 100,
                                    evidence={"z": i}) for i, t in enumerate(at[:5])])
    store.append_changes([Change(entity="svc1", ts=t, version=str(i))
                          for i, t in enumerate(at[:4])])
    store.upsert_tickets([Ticket(id=f"T-{i}", title=f"ticket {i}", created_at=t)
                          for i, t in enumerate(at[:3])])
    store.upsert_topology([Entity(id="svc1"), Entity(id="db")],
                          [Relation(source="svc1", target="db")])
    store.append_bands([(series_id("cpu", {"host": "h1"}), t, 1.0, 0.5, 1.5) for t in at])
    store.add_token("tok", "digest", ["read"], "ci")


def _reads(store: AnyStore) -> dict[str, Any]:
    sid = series_id("cpu", {"host": "h1"})
    span = TimeRange(T0, T0 + timedelta(hours=1))
    events = [EventQuery(), EventQuery(text="PROD"), EventQuery(text="env=dev"),
              EventQuery(severity=("critical",)),
              EventQuery(labels=(LabelMatcher("n", "=~", "[12]"),), limit=3),
              EventQuery(labels=(LabelMatcher("env", "=~", "(?i)PROD|x"),)),
              EventQuery(status="resolved", entity="svc2")]
    pages = {f"events{i}": store.query_events(q) for i, q in enumerate(events)}
    first = store.query_events(EventQuery(limit=2))
    pages["events_next"] = store.query_events(EventQuery(limit=2, cursor=first.next_cursor))
    fp = store.query_events(EventQuery()).items[0]["fingerprint"]
    return {
        **{k: (p.items, p.next_cursor) for k, p in pages.items()},
        "event": store.get_event("am", fp), "history": store.event_history("am", fp).items,
        "logs": store.query_logs(LogQuery(level=("error",), text="USER1")).items,
        "logs_by_template": store.query_logs(LogQuery(template_id="Tlogin")).items,
        "series": store.list_series("cpu", [LabelMatcher("host", "!~", "h0")], 10),
        "raw": store.query_series(SeriesQuery(name="cpu")),
        **{f"step_{agg}": store.query_series(SeriesQuery(name="cpu", step_seconds=120, agg=agg))
           for agg in ("avg", "min", "max", "sum", "last")},
        "bands": store.query_bands([sid], span, 300),
        "marks": store.anomaly_marks([sid], span),
        "history_batches": list(store.sample_history(None, None, 4)),
        "templates": store.query_log_templates(TemplateQuery(bucket_seconds=300)),
        "template": store.get_log_template("Tlogout", TemplateQuery()),
        "anomalies": store.query_anomalies(RecordQuery(extra={"min_score": "0.52"})).items,
        "changes": store.query_changes(RecordQuery(text="1")).items,
        "tickets": store.query_tickets(RecordQuery(limit=2)).items,
        "topology": store.topology()[1],
        "tokens": [{k: v for k, v in t.items() if k != "created_at"}
                   for t in store.list_tokens()],
        "entity_series": store.entity_series(["svc1", "h1"], T0, T0 + timedelta(hours=1)),
        "changes_between": store.changes_between(["svc1"], T0, T0 + timedelta(hours=1)),
        "anomalies_between": store.anomalies_between(["svc1"], T0, T0 + timedelta(hours=1)),
    }


def _comparable(value: Any) -> Any:
    """NaN equals NaN here: both stores stream a missing sample as NaN."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return _comparable(vars(value) if hasattr(value, "__dict__") else
                           {f: getattr(value, f) for f in value.__dataclass_fields__})
    return value


def test_both_stores_give_the_same_answers(dsn: str) -> None:
    clock = ManualClock()
    embedded = DuckDBStore(None, clock=clock)
    postgres = PostgresStore(dsn, clock=clock)
    try:
        for s in (embedded, postgres):
            _workload(s)
        expected, got = _reads(embedded), _reads(postgres)
        empty = [k for k, v in expected.items() if v in ([], {}, None, ([], None))]
        assert empty == []  # every read has something to compare
        for key in expected:
            assert _comparable(got[key]) == _comparable(expected[key]), key
    finally:
        embedded.close()
        postgres.close()


# --- durability --------------------------------------------------------------------------


def test_an_acknowledged_batch_survives_a_server_crash(pg_databases: DatabasePool) -> None:
    """A write returns after its commit is in the server's log: a server stopped like a
    crash (its own server here, not the shared one) comes back with the batch."""
    server = PgServer(pg_databases.server.bindir)
    try:
        dsn = server.new_database()
        store = PostgresStore(dsn, pool_size=2)
        store.append_logs([LogRecord(ts=T0, message=f"line {i}") for i in range(100)])
        event = Event(source="am", name="A", starts_at=T0)
        store.upsert_events([event, event])
        server.crash_and_restart()
        with contextlib.suppress(StorageError):
            store.close()
        with PostgresStore(dsn) as again:
            assert len(again.query_logs(LogQuery(limit=1000)).items) == 100
            row = again.get_event("am", event.fingerprint)
            assert row is not None and row["repeat_count"] == 1
    finally:
        server.stop()
