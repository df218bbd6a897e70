"""The metric analysis stage: committed samples in; anomalies and expected bands out.

Samples are committed raw at ingest and published on the bus topic ``metrics``. This
stage subscribes to it and hands each batch to a :class:`SeriesDetectorBank`, one
detector state per series, in the batch's order (event time comes from the samples, so a
replay scores as live traffic would). For every sample the bank says what it expected and
the band around it; for every alarm the stage makes an :class:`~opscope.model.Anomaly`
(series, entity, score, expected value and band, onset, direction).

It then stores the anomalies (idempotent by id) and the band (at most one point per
``band_step`` seconds of event time and series, so that the band table grows far slower
than the samples), and publishes the anomalies on the bus topic ``anomalies`` for
correlation. Writes that fail are kept and retried with the next batch.

The bank is saved as versioned npz in the data directory, every ``save_interval``
seconds of wall time while samples flow and on :meth:`MetricAnalysisStage.close`, and
restored at start; ``opscope train`` writes the same file from stored history.

Operators' false-alarm verdicts are read from the store with the batches it scores, at
most every ``verdict_interval`` seconds (so within that time while samples flow), in the
order given and wherever they were given (a web replica, the CLI), and
each teaches its series' detector to tolerate the surprise it was called on
(``SeriesDetectorBank.tolerate``). The sequence number of the last one read is saved with
the state, so a detector that starts afresh takes every verdict again, each faded by the
event time since its alarm; verdicts on series that hold no detector yet wait (bounded)
until the series' next sample.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from opscope.analyze.metrics.bank import (
    BankConfig,
    BankScores,
    SeriesDetectorBank,
    metric_anomaly,
)
from opscope.analyze.metrics.detector import FloatArray
from opscope.errors import OpscopeError, Overloaded, StorageError, ValidationFailed
from opscope.model import Anomaly, MetricSample, series_id

log = logging.getLogger(__name__)

STATE_FORMAT = "opscope.metric-analysis-state"
STATE_VERSION = 1
STATE_FILE = "metric-detectors.npz"
"""Name of the saved detector state inside the data directory."""

ANOMALY_KIND = "metric"

VERDICT_INTERVAL_S = 15.0
"""Seconds between reads of operators' verdicts from the store."""

BandRow = tuple[str, datetime, float, float | None, float | None]
"""``(series_id, ts, expected, lower, upper)``, as ``opscope.store.ports.BandRow``."""

Publish = Callable[[Sequence[Anomaly]], None]
"""Hands stored anomalies on (the bus topic ``anomalies``); may raise ``Overloaded``."""

# Bounds of the per-series bookkeeping outside the bank: past them the maps start afresh,
# which costs at most one hash per sample or one extra band point per series.
_ID_CACHE_LIMIT = 200_000
# Band points waiting for a store that failed; past this the oldest are given up.
_PENDING_BAND_LIMIT = 500_000
# Verdicts read per page, pages per read, and series whose verdicts wait for a detector.
_VERDICT_PAGE = 1_000
_VERDICT_PAGES = 20
_WAITING_LIMIT = 100_000
# Anomalies waiting for a store that failed: they are few and they matter, so far more is
# kept than ever piles up in practice, but a store down for good must not exhaust memory.
_PENDING_ANOMALY_LIMIT = 100_000


class MetricAnalysisStore(Protocol):
    """What the stage writes (``opscope.store.ports.BandStore`` and ``AnomalyStore``),
    declared here because analysis does not import the store."""

    def append_bands(self, bands: Sequence[BandRow]) -> object: ...
    def append_anomalies(self, anomalies: Sequence[Anomaly]) -> object: ...


@runtime_checkable
class VerdictSource(Protocol):
    """Operators' false-alarm verdicts in the order given (``opscope.store.ports.
    AnomalyStore.false_alarms_after``): rows ``{seq, anomaly_id, kind, subject, anomaly_ts,
    evidence}`` and the last sequence number examined."""

    def false_alarms_after(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        ...


@dataclass
class StageCounters:
    """What the stage did since it started; ``busy_seconds`` is time spent in batches."""

    samples: int = 0
    batches: int = 0
    anomalies: int = 0
    bands: int = 0
    unpublished: int = 0
    write_failures: int = 0
    bands_dropped: int = 0
    anomalies_dropped: int = 0
    saves: int = 0
    save_failures: int = 0
    busy_seconds: float = 0.0
    verdicts_applied: int = 0
    verdict_failures: int = 0
    scoring_seconds: float = 0.0
    writing_seconds: float = 0.0

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.busy_seconds if self.busy_seconds > 0 else 0.0


@dataclass
class _Pending:
    anomalies: list[Anomaly] = field(default_factory=list)
    bands: list[BandRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.anomalies or self.bands)


class MetricAnalysisStage:
    """Scores committed samples per series; see the module doc."""

    name = "metric-analysis"

    def __init__(
        self,
        store: MetricAnalysisStore,
        bank: SeriesDetectorBank | None = None,
        *,
        publish: Publish | None = None,
        state_path: Path | None = None,
        band_step: float = 60.0,
        save_interval: float = 300.0,
        verdict_interval: float = VERDICT_INTERVAL_S,
    ) -> None:
        if not band_step > 0:
            raise ValidationFailed("band_step must be positive")
        self.bank = bank if bank is not None else SeriesDetectorBank()
        self.counters = StageCounters()
        self.band_step = band_step
        self.save_interval = save_interval
        self._store = store
        self._publish = publish
        self._state_path = state_path
        self._ids: dict[tuple[Any, ...], str] = {}
        self._band_bucket: dict[str, float] = {}
        self._pending = _Pending()
        self._lock = threading.Lock()
        self._last_save = time.monotonic()
        self._dirty = False
        self.verdict_interval = verdict_interval
        self._last_verdicts = -math.inf
        # False alarms on series that hold no detector yet (after a restart that set the
        # state aside, a series is back only with its next sample): applied when it is.
        self._waiting: dict[str, list[tuple[float, float, float | None]]] = {}

    @classmethod
    def open(
        cls,
        store: MetricAnalysisStore,
        config: BankConfig | None = None,
        *,
        state_path: Path | None = None,
        **options: Any,
    ) -> MetricAnalysisStage:
        """Restore the bank saved at ``state_path``, or start with fresh detectors.

        A state saved with other bank settings, or unreadable, is set aside (renamed
        ``*.old``) and the detectors start afresh.
        """
        config = config or BankConfig()
        bank = load_state(state_path, config) if state_path is not None else None
        if bank is None:
            log.info("metric detectors start afresh (`opscope train` warms them from stored "
                     "history)")
            bank = SeriesDetectorBank(config)
        else:
            log.info("restored metric detectors of %d series from %s", len(bank), state_path)
        return cls(store, bank, state_path=state_path, **options)

    def handle(self, batch: Sequence[Any]) -> None:
        """Bus handler for the topic ``metrics`` (lists of committed ``MetricSample``)."""
        self.process([item for item in batch if isinstance(item, MetricSample)])

    def process(self, samples: Sequence[MetricSample]) -> list[Anomaly]:
        """Score ``samples`` in order, store and publish what was found; return anomalies.

        The detectors learn from the batch even when the store fails: the results are
        kept and written with the next batch (``StorageError`` is raised meanwhile, so
        that the bus counts and logs the failure).
        """
        with self._lock:
            started = time.perf_counter()
            found: list[Anomaly] = []
            try:
                if samples:
                    found, bands = self._score(samples)
                    self._pending.anomalies.extend(found)
                    self._pending.bands.extend(bands)
                    self.counters.samples += len(samples)
                    self.counters.batches += 1
                    self._dirty = True
                if time.monotonic() - self._last_verdicts >= self.verdict_interval:
                    self._read_verdicts()
                scored = time.perf_counter()
                self.counters.scoring_seconds += scored - started
                if self._pending:
                    self._write()
                self.counters.writing_seconds += time.perf_counter() - scored
            finally:
                self.counters.busy_seconds += time.perf_counter() - started
                # Even while the store fails: what the detectors learnt is worth keeping.
                if time.monotonic() - self._last_save >= self.save_interval:
                    self._save_logged()
            return found

    def save(self) -> None:
        with self._lock:
            self._save()

    def close(self) -> None:
        """Save the state (idempotent; call once the bus has stopped delivering)."""
        with self._lock:
            if self._pending:
                try:
                    self._write()
                except StorageError:
                    log.error("metric analysis results lost at shutdown: %d anomalies, %d band "
                              "points", len(self._pending.anomalies), len(self._pending.bands))
            self._save()

    # -- steps ------------------------------------------------------------------------

    def _series_ids(self, samples: Sequence[MetricSample]) -> list[str]:
        # Hashing every sample's name and labels would be a large share of the stage's
        # time; label sets repeat, so cache them.
        ids = self._ids
        if len(ids) > _ID_CACHE_LIMIT:
            ids.clear()
        out: list[str] = []
        for s in samples:
            key = (s.name, *s.labels.items())
            sid = ids.get(key)
            if sid is None:
                sid = ids[key] = series_id(s.name, s.labels)
            out.append(sid)
        return out

    def _score(self, samples: Sequence[MetricSample]) -> tuple[list[Anomaly], list[BandRow]]:
        n = len(samples)
        series = self._series_ids(samples)
        t = np.fromiter((s.ts.timestamp() for s in samples), dtype=np.float64, count=n)
        x = np.fromiter((s.value for s in samples), dtype=np.float64, count=n)
        # ``score_arrays`` rather than ``update``: the band of every sample is needed too.
        scores = self.bank.score_arrays(series, t, x, [s.name for s in samples])
        anomalies = [metric_anomaly(samples[i], series[i], scores, i, self.bank.detector)
                     for i in np.flatnonzero(scores.alarm).tolist()]
        if self._waiting:
            self._apply_waiting(set(series))
        return anomalies, self._bands(samples, series, t, scores)

    def _bands(
        self, samples: Sequence[MetricSample], series: list[str], t: FloatArray,
        scores: BankScores,
    ) -> list[BandRow]:
        """The first band point of each series in each ``band_step`` bucket."""
        if len(self._band_bucket) > _ID_CACHE_LIMIT:
            self._band_bucket.clear()
        usable = np.flatnonzero(np.isfinite(scores.expected))
        last = self._band_bucket
        keep: list[int] = []
        # The only per-sample Python loop here: which series entered a new bucket.
        for i, b in zip(usable.tolist(), np.floor(t[usable] / self.band_step).tolist(),
                        strict=True):
            sid = series[i]
            if last.get(sid, -math.inf) < b:
                last[sid] = b
                keep.append(i)
        rows = np.asarray(keep, dtype=np.intp)
        expected = scores.expected[rows].tolist()
        lower, upper = _nullable(scores.lower[rows]), _nullable(scores.upper[rows])
        return [(series[i], samples[i].ts, e, lo, up)
                for i, e, lo, up in zip(keep, expected, lower, upper, strict=True)]

    def _read_verdicts(self) -> None:
        """Apply the false alarms given since the last read (on any process: they come
        from the store), so that each series' detector tolerates what was called one."""
        self._last_verdicts = time.monotonic()
        if not isinstance(self._store, VerdictSource):
            return
        for _ in range(_VERDICT_PAGES):
            try:
                rows, last = self._store.false_alarms_after(self.bank.verdicts_seen,
                                                            _VERDICT_PAGE)
            except StorageError:
                self.counters.verdict_failures += 1
                log.warning("cannot read operators' verdicts yet; retrying in %.0f s",
                            self.verdict_interval)
                return
            for row in rows:
                self._apply_verdict(row)
            moved = last > self.bank.verdicts_seen
            self.bank.verdicts_seen = max(self.bank.verdicts_seen, last)
            self._dirty = self._dirty or moved
            if not moved:
                return

    def _apply_verdict(self, row: dict[str, Any]) -> None:
        evidence = row.get("evidence")
        if row.get("kind") != ANOMALY_KIND or not isinstance(evidence, dict):
            return
        index, level = evidence.get("driver_index"), evidence.get("driver_level")
        if not isinstance(index, int) or isinstance(index, bool):
            return  # stored before anomalies named the member that raised them
        if not isinstance(level, int | float) or isinstance(level, bool):
            return
        at = _epoch(row.get("anomaly_ts"))
        series = str(row.get("subject", ""))
        if self.bank.tolerate(series, float(index), float(level), at):
            self.counters.verdicts_applied += 1
        elif series not in self.bank and len(self._waiting) < _WAITING_LIMIT:
            self._waiting.setdefault(series, []).append((float(index), float(level), at))

    def _apply_waiting(self, series: set[str]) -> None:
        for sid in series & self._waiting.keys():
            for index, level, at in self._waiting.pop(sid):
                if self.bank.tolerate(sid, index, level, at):
                    self.counters.verdicts_applied += 1

    def _write(self) -> None:
        pending = self._pending
        # Anomalies first: they are idempotent by id, so a retry after a failed band write
        # stores nothing twice.
        try:
            if pending.anomalies:
                self._store.append_anomalies(pending.anomalies)
                self.counters.anomalies += len(pending.anomalies)
                self._hand_on(pending.anomalies)
                pending.anomalies = []
            if pending.bands:
                self._store.append_bands(pending.bands)
                self.counters.bands += len(pending.bands)
                pending.bands = []
        except StorageError:
            self.counters.write_failures += 1
            excess = len(pending.bands) - _PENDING_BAND_LIMIT
            if excess > 0:
                del pending.bands[:excess]
                self.counters.bands_dropped += excess
            excess = len(pending.anomalies) - _PENDING_ANOMALY_LIMIT
            if excess > 0:
                del pending.anomalies[:excess]
                self.counters.anomalies_dropped += excess
                log.error("metric anomalies given up after store failures: %d", excess)
            log.warning("metric analysis results not stored yet (%d anomalies, %d band "
                        "points); retrying with the next batch", len(pending.anomalies),
                        len(pending.bands))
            raise

    def _hand_on(self, anomalies: list[Anomaly]) -> None:
        if self._publish is None:
            return
        try:
            self._publish(anomalies)
        except Overloaded:
            # Stored already; only the hand-over to correlation is missed, and counted.
            self.counters.unpublished += 1
            log.warning("%d metric anomalies stored but not published: queue full",
                        len(anomalies))

    def _save_logged(self) -> None:
        try:
            self._save()
        except OSError:
            self.counters.save_failures += 1
            log.exception("cannot save the metric detector state to %s", self._state_path)

    def _save(self) -> None:
        self._last_save = time.monotonic()
        if self._state_path is None or not self._dirty:
            return
        save_state(self._state_path, self.bank)
        self._dirty = False
        self.counters.saves += 1


def _nullable(values: FloatArray) -> list[float | None]:
    """Floats with NaN and infinities as None (no value), for the store."""
    out: list[float | None] = values.tolist()
    if not np.isfinite(values).all():
        out = [v if v is not None and math.isfinite(v) else None for v in out]
    return out


# -- the saved state ---------------------------------------------------------------------


def _config_document(config: BankConfig) -> Any:
    # Through JSON, so that a saved and a live configuration compare alike (tuples, floats).
    return json.loads(config.model_dump_json())


def save_state(path: Path, bank: SeriesDetectorBank) -> None:
    """Write the bank atomically as npz: a crash leaves the previous file or the new one."""
    header = {"format": STATE_FORMAT, "version": STATE_VERSION, "series": len(bank),
              "config": _config_document(bank.config)}
    buffer = io.BytesIO()
    np.savez(
        buffer,
        header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        bank=np.frombuffer(bank.save(), dtype=np.uint8),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def load_state(path: Path, config: BankConfig) -> SeriesDetectorBank | None:
    """The saved bank; None (and the file set aside) when missing, unusable or made with
    other settings."""
    if not path.exists():
        return None
    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as npz:
            header = json.loads(npz["header"].tobytes().decode())
            if (not isinstance(header, dict) or header.get("format") != STATE_FORMAT
                    or header.get("version") != STATE_VERSION):
                raise ValidationFailed("not a metric analysis state of a supported version")
            if header.get("config") != _config_document(config):
                log.warning("metric detector state in %s was made with other settings; "
                            "starting afresh", path)
                _set_aside(path)
                return None
            return SeriesDetectorBank.load(npz["bank"].tobytes(), config)
    except (OSError, ValueError, KeyError, TypeError, OpscopeError) as exc:
        log.error("cannot restore metric detector state from %s (%s); starting afresh",
                  path, exc)
        _set_aside(path)
        return None


def _set_aside(path: Path) -> None:
    os.replace(path, path.with_name(path.name + ".old"))


def _epoch(value: Any) -> float | None:
    """Unix seconds of a stored row's ISO time (``...Z``), None when unreadable."""
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None
