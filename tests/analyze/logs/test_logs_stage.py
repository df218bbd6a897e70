"""The log analysis stage over a real (in-memory) store: write-back, stats, anomalies, state."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from opscope.analyze.logs import LogAnalyzerConfig, NewTemplateConfig
from opscope.analyze.logs.stage import LogAnalysisStage
from opscope.errors import Overloaded, StorageError
from opscope.model import Anomaly, LogRecord
from opscope.store.duckdb import DuckDBStore
from opscope.store.ports import LogQuery, RecordQuery, TemplateQuery

T0 = datetime(2024, 5, 1, tzinfo=UTC)
# Only the new-template detector, with a short warm-up, so the known answer is exact.
CONFIG = LogAnalyzerConfig(new_template=NewTemplateConfig(warmup_seconds=300, warmup_lines=50),
                           template_rate=None, level_surge=None, sessions=None)


def normal(start: int, count: int, entity: str = "web") -> list[LogRecord]:
    """Two event shapes, one line every 10 s of event time."""
    out = []
    for i in range(start, start + count):
        ts = T0 + timedelta(seconds=10 * i)
        if i % 2:
            message = f"user u{i % 5} logged in from 10.0.0.{i % 9}"
        else:
            message = f"served /item/{i} in {i % 40} ms"
        out.append(LogRecord(ts=ts, message=message, entity=entity, level="info"))
    return out


def failure(at: int) -> LogRecord:
    return LogRecord(ts=T0 + timedelta(seconds=10 * at), level="error", entity="web",
                     message="ERROR connection pool exhausted for db-7 after 30 s")


@pytest.fixture
def store() -> Iterator[DuckDBStore]:
    s = DuckDBStore(None)
    yield s
    s.close()


class Published:
    def __init__(self) -> None:
        self.batches: list[list[Anomaly]] = []

    def __call__(self, anomalies: Sequence[Anomaly]) -> None:
        self.batches.append(list(anomalies))


def test_templates_and_params_are_written_back_and_counted(store: DuckDBStore) -> None:
    stage = LogAnalysisStage(store, None, batch_lines=30)
    batch = normal(0, 100)
    store.append_logs(batch)
    stage.process(batch)
    assert stage.seq == 100 and stage.counters.lines == 100 and stage.counters.steps == 4
    assert store.log_analysis_mark() == (100, 100)
    rows = store.query_logs(LogQuery(limit=1000)).items
    assert all(r["template_id"] for r in rows)
    login = next(r for r in rows if r["message"] == "user u1 logged in from 10.0.0.1")
    assert login["params"] == ["u1", "10.0.0.1"]
    templates = store.query_log_templates(TemplateQuery())
    assert sorted(t["count"] for t in templates) == [50, 50]
    assert {t["template"] for t in templates} == {"user <*> logged in from <*>",
                                                  "served <*> in <*> ms"}
    # Rows committed since are picked up by the next call, whatever batch signals it.
    store.append_logs(normal(100, 10))
    stage.process([])
    assert stage.seq == 110
    assert sum(t["count"] for t in store.query_log_templates(TemplateQuery())) == 110


def test_new_template_after_warm_up_is_stored_and_published(store: DuckDBStore) -> None:
    published = Published()
    stage = LogAnalysisStage.open(store, CONFIG, publish=published)
    store.append_logs(normal(0, 60))
    assert stage.process() == []  # warm-up: templates are learnt without alarms
    store.append_logs([*normal(60, 5), failure(66)])
    found = stage.process()
    assert [a.kind for a in found] == ["log_new_template"]
    anomaly = found[0]
    assert anomaly.entity == "web" and anomaly.ts == T0 + timedelta(seconds=660)
    assert anomaly.evidence["examples"] == [failure(66).message]
    assert published.batches == [found]
    stored = store.query_anomalies(RecordQuery(kind="log_new_template")).items
    assert [a["subject"] for a in stored] == [anomaly.subject]
    error_rows = store.query_logs(LogQuery(template_id=anomaly.subject)).items
    assert [r["message"] for r in error_rows] == [failure(66).message]
    assert error_rows[0]["level"] == "error"


def test_a_full_anomaly_queue_is_counted_not_fatal(store: DuckDBStore) -> None:
    def full(_: Sequence[Anomaly]) -> None:
        raise Overloaded("queue full")

    stage = LogAnalysisStage.open(store, CONFIG, publish=full)
    store.append_logs([*normal(0, 60), failure(61)])
    assert len(stage.process()) == 1
    assert stage.counters.unpublished == 1
    assert len(store.query_anomalies(RecordQuery()).items) == 1


def test_state_survives_a_restart_with_stable_ids(store: DuckDBStore, tmp_path: Path) -> None:
    path = tmp_path / "log-analysis.json"
    first = LogAnalysisStage.open(store, CONFIG, state_path=path)
    store.append_logs(normal(0, 80))
    first.process()
    first.close()
    document = orjson.loads(path.read_bytes())
    assert document["kind"] == "log_analysis_stage" and document["version"] == 1
    assert document["seq"] == 80
    ids = {t["template_id"] for t in store.query_log_templates(TemplateQuery())}

    second = LogAnalysisStage.open(store, CONFIG, state_path=path)
    assert second.seq == 80
    store.append_logs(normal(80, 20))
    assert second.process() == []  # nothing new: the restored analyzer knows both shapes
    assert {t["template_id"] for t in store.query_log_templates(TemplateQuery())} == ids


def test_a_crash_after_the_last_save_neither_skips_nor_double_counts(
        store: DuckDBStore, tmp_path: Path) -> None:
    path = tmp_path / "log-analysis.json"
    stage = LogAnalysisStage.open(store, CONFIG, state_path=path)
    store.append_logs(normal(0, 60))
    stage.process()
    stage.save()  # saved at seq 60 ...
    store.append_logs([*normal(60, 10), failure(70)])
    assert len(stage.process()) == 1  # ... then analysed further and "crashed" unsaved

    restarted = LogAnalysisStage.open(store, CONFIG, state_path=path)
    store.append_logs([*normal(71, 10), failure(81)])
    # The failure's template was replayed from the stored rows, so it is not new again.
    assert restarted.process() == []
    assert restarted.counters.replayed == 11
    counts = store.query_log_templates(TemplateQuery())
    assert sum(t["count"] for t in counts) == 82
    assert sorted(t["count"] for t in counts) == [2, 40, 40]


def test_other_settings_or_a_broken_file_start_afresh(store: DuckDBStore,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "log-analysis.json"
    stage = LogAnalysisStage.open(store, CONFIG, state_path=path)
    store.append_logs(normal(0, 60))
    stage.process()
    stage.close()
    other = CONFIG.model_copy(update={"parse_headers": False})
    fresh = LogAnalysisStage.open(store, other, state_path=path)
    assert fresh.seq == 60 and fresh.analyzer.miner.stats()["templates"] == 0
    assert (tmp_path / "log-analysis.json.old").exists() and not path.exists()
    path.write_text("{not json")
    assert LogAnalysisStage.open(store, CONFIG, state_path=path).seq == 60


def test_without_state_only_recent_rows_are_backfilled(store: DuckDBStore) -> None:
    store.append_logs(normal(0, 100))
    stage = LogAnalysisStage.open(store, CONFIG, backfill_lines=30)
    assert stage.seq == 70
    stage.process()
    assert sum(t["count"] for t in store.query_log_templates(TemplateQuery())) == 30
    assert store.query_logs(LogQuery(limit=1000)).items[-1]["template_id"] is None


def test_a_large_backlog_is_worked_off_in_bounded_steps(store: DuckDBStore) -> None:
    stage = LogAnalysisStage(store, None, batch_lines=20, max_lines_per_wakeup=50)
    store.append_logs(normal(0, 120))
    stage.process()
    assert stage.seq == 50  # steps of 20, 20 and 10; the rest waits for the next batch
    stage.process()
    assert stage.seq == 100
    stage.process()
    assert stage.seq == 120 and stage.counters.steps == 7


class FlakyStore:
    """Delegates to a store but fails the first write of analysis results."""

    def __init__(self, inner: DuckDBStore) -> None:
        self.inner = inner
        self.failures = 1

    def logs_after(self, seq: int, limit: int) -> list[tuple[int, LogRecord]]:
        return self.inner.logs_after(seq, limit)

    def log_analysis_mark(self) -> tuple[int, int]:
        return self.inner.log_analysis_mark()

    def record_log_analysis(self, upto_seq: int, records: Sequence[tuple[int, LogRecord]],
                            templates: Mapping[str, str], merges: Mapping[str, str]) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageError("disk busy")
        self.inner.record_log_analysis(upto_seq, records, templates, merges)

    def append_anomalies(self, anomalies: Sequence[Anomaly]) -> object:
        return self.inner.append_anomalies(anomalies)


def test_a_failed_write_is_retried_before_going_on(store: DuckDBStore) -> None:
    stage = LogAnalysisStage(FlakyStore(store), None)
    store.append_logs(normal(0, 40))
    with pytest.raises(StorageError):
        stage.process()
    assert store.log_analysis_mark() == (0, 40)
    store.append_logs(normal(40, 10))
    stage.process()
    assert store.log_analysis_mark() == (50, 50)
    assert stage.counters.lines == 50  # the failed step was written, not analysed twice
    assert sum(t["count"] for t in store.query_log_templates(TemplateQuery())) == 50


def test_a_step_the_analyzer_fails_on_is_skipped_and_counted(
        store: DuckDBStore, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    stage = LogAnalysisStage(store, None, batch_lines=10)
    real = stage.analyzer.process
    calls = {"n": 0}

    def first_step_breaks(records: Sequence[LogRecord]) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("broken line")
        return real(records)

    monkeypatch.setattr(stage.analyzer, "process", first_step_breaks)
    store.append_logs(normal(0, 25))
    stage.process()
    assert stage.counters.failed == 10 and stage.counters.lines == 15
    assert store.log_analysis_mark() == (25, 25)
    rows = store.query_logs(LogQuery(limit=100)).items
    assert sum(1 for r in rows if r["template_id"] is None) == 10
    assert "left unanalysed" in caplog.text


def test_state_is_saved_periodically_while_logs_flow(store: DuckDBStore,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "state" / "log-analysis.json"
    stage = LogAnalysisStage.open(store, CONFIG, state_path=path, save_interval=0.0)
    store.append_logs(normal(0, 20))
    stage.process()
    assert orjson.loads(path.read_bytes())["seq"] == 20 and stage.counters.saves == 1
    quiet = LogAnalysisStage.open(store, CONFIG, state_path=tmp_path / "other.json")
    quiet.process()
    assert not (tmp_path / "other.json").exists()  # default interval: not yet


def test_state_is_not_saved_ahead_of_the_store(store: DuckDBStore, tmp_path: Path) -> None:
    path = tmp_path / "log-analysis.json"
    stage = LogAnalysisStage(FlakyStore(store), None, state_path=path)
    store.append_logs(normal(0, 10))
    with pytest.raises(StorageError):
        stage.process()
    stage.close()
    assert not path.exists()
    stage.process()
    stage.close()
    assert orjson.loads(path.read_bytes())["seq"] == 10
