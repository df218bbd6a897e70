"""The log analysis stage: committed log rows in; templates, statistics and anomalies out.

Logs are committed raw at ingest (the fast path) and published on the bus. This stage
subscribes to that topic, but takes its input from the store rather than from the
published batch: it reads the rows committed after the last one it analysed, in ``seq``
order. That gives every analysed line its row key (so that its template and parameters
can be written back to it), keeps the analysis in commit order whatever order concurrent
requests publish in, and lets a restart pick up exactly where the last commit left off.

For each step of at most ``batch_lines`` rows the stage runs the
:class:`~opscope.analyze.logs.LogAnalyzer`, stores the anomalies it found (idempotent by
id), writes the rows' templates, the template counts and the last analysed ``seq`` in one
transaction, and then publishes the anomalies (topic ``anomalies``) for correlation.

The analyzer state is saved as versioned JSON, every ``save_interval`` seconds of wall
time while logs flow and on :meth:`LogAnalysisStage.close`, together with the ``seq`` it
corresponds to. After a crash the store's mark may be ahead of the saved state: the rows
in between are fed to the analyzer again without writing anything (its results were
already committed), which brings it back to where it was, with the same template ids.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from opscope.analyze.logs.analyzer import LogAnalyzer, LogAnalyzerConfig
from opscope.errors import OpscopeError, Overloaded, StorageError, ValidationFailed
from opscope.model import Anomaly, LogRecord

log = logging.getLogger(__name__)

STATE_KIND = "log_analysis_stage"
STATE_VERSION = 1

Publish = Callable[[Sequence[Anomaly]], None]
"""Hands stored anomalies on (the bus topic ``anomalies``); may raise ``Overloaded``."""


class AnalysedLogStore(Protocol):
    """What the stage needs from the store (``opscope.store.ports.TemplateStore`` and
    ``append_anomalies``), declared here because analysis does not import the store."""

    def logs_after(self, seq: int, limit: int) -> list[tuple[int, LogRecord]]: ...
    def log_analysis_mark(self) -> tuple[int, int]: ...
    def record_log_analysis(
        self, upto_seq: int, records: Sequence[tuple[int, LogRecord]],
        templates: Mapping[str, str], merges: Mapping[str, str],
    ) -> None: ...
    def append_anomalies(self, anomalies: Sequence[Anomaly]) -> object: ...


@dataclass
class StageCounters:
    """What the stage did since it started; ``busy_seconds`` is time spent analysing."""

    lines: int = 0
    steps: int = 0
    anomalies: int = 0
    unpublished: int = 0
    replayed: int = 0
    failed: int = 0
    busy_seconds: float = 0.0
    saves: int = 0

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.busy_seconds if self.busy_seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Results:
    upto_seq: int
    records: list[tuple[int, LogRecord]]
    templates: dict[str, str]
    merges: dict[str, str]
    anomalies: list[Anomaly]


class LogAnalysisStage:
    """Runs the log analyzer over newly committed log rows; see the module doc."""

    name = "log-analysis"

    def __init__(
        self,
        store: AnalysedLogStore,
        analyzer: LogAnalyzer | None = None,
        *,
        publish: Publish | None = None,
        state_path: Path | None = None,
        start_seq: int = 0,
        replay_to: int = 0,
        batch_lines: int = 5000,
        max_lines_per_wakeup: int = 50_000,
        save_interval: float = 60.0,
    ) -> None:
        self.analyzer = analyzer or LogAnalyzer()
        self.counters = StageCounters()
        self.batch_lines = batch_lines
        self.max_lines_per_wakeup = max_lines_per_wakeup
        self.save_interval = save_interval
        self._store = store
        self._publish = publish
        self._state_path = state_path
        self._seq = start_seq
        self._replay_to = replay_to
        self._pending: _Results | None = None
        self._sent_merges: dict[str, str] = {}
        self._merge_count = self.analyzer.miner.stats()["merges"]
        self._lock = threading.Lock()
        self._last_save = time.monotonic()

    @classmethod
    def open(
        cls,
        store: AnalysedLogStore,
        config: LogAnalyzerConfig | None = None,
        *,
        state_path: Path | None = None,
        backfill_lines: int = 100_000,
        **options: Any,
    ) -> LogAnalysisStage:
        """Restore the saved state at ``state_path`` or start afresh.

        Afresh, analysis starts at the store's mark, but no further back than the
        ``backfill_lines`` latest rows. A saved state made with another analyzer
        configuration is set aside (renamed ``*.old``) and analysis starts afresh.
        """
        config = config or LogAnalyzerConfig()
        done, latest = store.log_analysis_mark()
        restored = load_state(state_path, config) if state_path is not None else None
        if restored is None:
            start = max(done, latest - backfill_lines)
            return cls(store, LogAnalyzer(config), state_path=state_path, start_seq=start,
                       replay_to=start, **options)
        analyzer, seq = restored
        log.info("restored log analysis state at seq %d (store mark %d)", seq, done)
        return cls(store, analyzer, state_path=state_path, start_seq=seq,
                   replay_to=max(seq, done), **options)

    @property
    def seq(self) -> int:
        """The last log row the analyzer has seen."""
        return self._seq

    def handle(self, batch: Sequence[Any]) -> None:
        """Bus handler: a committed batch of logs means there is something to analyse."""
        self.process(batch)

    def process(self, batch: Sequence[Any] = ()) -> list[Anomaly]:
        """Analyse the rows committed since the last call; ``batch`` only signals them.

        Returns the anomalies found (already stored and published).
        """
        with self._lock:
            started = time.perf_counter()
            try:
                if self._pending is not None:
                    self._commit(self._pending)
                self._replay()
                found: list[Anomaly] = []
                budget = self.max_lines_per_wakeup
                while budget > 0:
                    rows = self._store.logs_after(self._seq, min(self.batch_lines, budget))
                    if not rows:
                        break
                    budget -= len(rows)
                    results = self._analyse_or_skip(rows)
                    self._commit(results)
                    found.extend(results.anomalies)
            finally:
                self.counters.busy_seconds += time.perf_counter() - started
            if time.monotonic() - self._last_save >= self.save_interval:
                self._save()
            return found

    def close(self) -> None:
        """Save the state (idempotent; call once the bus has stopped delivering)."""
        with self._lock:
            self._save()

    def save(self) -> None:
        with self._lock:
            self._save()

    # -- steps ------------------------------------------------------------------------

    def _replay(self) -> None:
        """Bring a restored analyzer up to the store's mark, writing nothing."""
        while self._seq < self._replay_to:
            rows = [r for r in self._store.logs_after(self._seq, self.batch_lines)
                    if r[0] <= self._replay_to]
            if not rows:
                break
            self.analyzer.process([record for _, record in rows])
            self._seq = rows[-1][0]
            self.counters.replayed += len(rows)
        self._seq = max(self._seq, self._replay_to)

    def _analyse_or_skip(self, rows: list[tuple[int, LogRecord]]) -> _Results:
        try:
            return self._analyse(rows)
        except Exception:
            # A step the analyzer cannot handle would otherwise be read again and fail
            # again forever: its rows stay without a template, and it is counted and logged.
            log.exception("log analysis failed on rows %d..%d; left unanalysed",
                          rows[0][0], rows[-1][0])
            self._seq = rows[-1][0]
            self.counters.failed += len(rows)
            return _Results(self._seq, [], {}, {}, [])

    def _analyse(self, rows: list[tuple[int, LogRecord]]) -> _Results:
        records, anomalies = self.analyzer.process([record for _, record in rows])
        miner = self.analyzer.miner
        templates: dict[str, str] = {}
        analysed: list[tuple[int, LogRecord]] = []
        for (seq, _), record in zip(rows, records, strict=True):
            tid = record.template_id
            if tid is not None:
                # A template may have merged into another one later in the same step.
                current = miner.resolve(tid)
                if current != tid:
                    record = record.model_copy(update={"template_id": current})
                if current not in templates:
                    templates[current] = miner.template(current) or ""
            analysed.append((seq, record))
        self._seq = rows[-1][0]
        self.counters.lines += len(rows)
        self.counters.steps += 1
        return _Results(self._seq, analysed, templates, self._new_merges(), anomalies)

    def _new_merges(self) -> dict[str, str]:
        """Merged ids whose current id the store has not been told yet."""
        count = self.analyzer.miner.stats()["merges"]
        if count == self._merge_count:
            return {}
        self._merge_count = count
        miner = self.analyzer.miner
        changed = {}
        for old in miner.merges():
            new = miner.resolve(old)
            if self._sent_merges.get(old) != new:
                changed[old] = new
        return changed

    def _commit(self, results: _Results) -> None:
        # Anomalies first (idempotent by id): if the step's commit then fails, it is
        # written again with the next batch; if the process dies, the step is analysed
        # again after the restart and finds the same anomalies, which are not stored twice.
        self._pending = results
        try:
            if results.anomalies:
                self._store.append_anomalies(results.anomalies)
            self._store.record_log_analysis(results.upto_seq, results.records,
                                            results.templates, results.merges)
        except StorageError:
            log.warning("log analysis results up to seq %d not stored yet; retrying with "
                        "the next batch", results.upto_seq)
            raise
        self._pending = None
        self._sent_merges.update(results.merges)
        if results.anomalies:
            self.counters.anomalies += len(results.anomalies)
            self._hand_on(results.anomalies)

    def _hand_on(self, anomalies: list[Anomaly]) -> None:
        if self._publish is None:
            return
        try:
            self._publish(anomalies)
        except Overloaded:
            # Stored already; only the hand-over to correlation is missed, and counted.
            self.counters.unpublished += 1
            log.warning("%d log anomalies stored but not published: queue full",
                        len(anomalies))

    def _save(self) -> None:
        self._last_save = time.monotonic()
        if self._state_path is None:
            return
        if self._pending is not None:
            # A state ahead of the store's mark would skip the unstored rows on restart;
            # the previous state file stays, and the rows are analysed again instead.
            log.warning("log analysis state not saved: results up to seq %d are not "
                        "stored yet", self._pending.upto_seq)
            return
        save_state(self._state_path, self.analyzer, self._seq)
        self.counters.saves += 1


def save_state(path: Path, analyzer: LogAnalyzer, seq: int) -> None:
    """Write the state atomically: a crash leaves the previous file or the new one."""
    document = {"kind": STATE_KIND, "version": STATE_VERSION, "seq": seq,
                "analyzer": analyzer.to_json()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(orjson.dumps(document))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def load_state(path: Path, config: LogAnalyzerConfig) -> tuple[LogAnalyzer, int] | None:
    """The saved analyzer and its seq; None (and the file set aside) when unusable."""
    if not path.exists():
        return None
    try:
        document = orjson.loads(path.read_bytes())
        if (not isinstance(document, dict) or document.get("kind") != STATE_KIND
                or document.get("version") != STATE_VERSION):
            raise ValidationFailed("not a log analysis state of a supported version")
        analyzer = LogAnalyzer.from_json(document["analyzer"])
        seq = int(document["seq"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError,
            OpscopeError) as exc:
        log.error("cannot restore log analysis state from %s (%s); starting afresh",
                  path, exc)
        _set_aside(path)
        return None
    if analyzer.config != config:
        log.warning("log analysis state in %s was made with other settings; starting "
                    "afresh", path)
        _set_aside(path)
        return None
    return analyzer, seq


def _set_aside(path: Path) -> None:
    os.replace(path, path.with_name(path.name + ".old"))
