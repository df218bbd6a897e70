"""Expected bands and anomaly marks of metric series, and the sample history replay."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from store_backends import AnyStore, Stores
from store_clock import T0

from opscope.errors import ValidationFailed
from opscope.model import Anomaly, MetricSample, series_id
from opscope.store.duckdb import DuckDBStore
from opscope.store.duckdb.schema import migrate
from opscope.store.ports import BandRow, TimeRange

MS0 = int(T0.timestamp() * 1000)  # 2024-03-01T12:00:00Z, a multiple of 60 s


def band(sid: str, seconds: float, expected: float, half: float | None = 1.0) -> BandRow:
    lower = expected - half if half is not None else None
    upper = expected + half if half is not None else None
    return (sid, T0 + timedelta(seconds=seconds), expected, lower, upper)


def test_raw_band_points_oldest_first(store: AnyStore) -> None:
    store.append_bands([band("a", 20, 3.0), band("a", 0, 1.0), band("b", 10, 5.0, None)])
    got = store.query_bands(["a", "b", "missing"], TimeRange())
    assert got == {
        "a": [[MS0, 1.0, 0.0, 2.0], [MS0 + 20_000, 3.0, 2.0, 4.0]],
        "b": [[MS0 + 10_000, 5.0, None, None]],
        "missing": [],
    }
    assert store.query_bands([], TimeRange()) == {}


def test_band_buckets_align_with_series_points(store: AnyStore) -> None:
    store.append_bands([band("a", s, float(s)) for s in (0, 10, 20, 60, 70)])
    got = store.query_bands(["a"], TimeRange(), step_seconds=60)
    # Bucket starts on the epoch-aligned minute; each bucket averages its points.
    assert got == {"a": [[MS0, 10.0, 9.0, 11.0], [MS0 + 60_000, 65.0, 64.0, 66.0]]}
    with pytest.raises(ValidationFailed):
        store.query_bands(["a"], TimeRange(), step_seconds=0.0001)


def test_band_time_range_is_half_open(store: AnyStore) -> None:
    store.append_bands([band("a", s, float(s)) for s in (0, 10, 20)])
    span = TimeRange(T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))
    assert store.query_bands(["a"], span) == {"a": [[MS0 + 10_000, 10.0, 9.0, 11.0]]}


def test_anomaly_marks_are_metric_anomalies_of_the_series(store: AnyStore) -> None:
    sid = series_id("cpu", {"host": "a"})
    at = T0 + timedelta(seconds=30)
    store.append_anomalies([
        Anomaly(kind="metric", subject=sid, ts=at, score=0.9, direction="up"),
        Anomaly(kind="metric", subject=sid, ts=T0, score=0.7, direction="down"),
        Anomaly(kind="log_rate", subject=sid, ts=at, score=0.99),
        Anomaly(kind="metric", subject="other", ts=at, score=0.8),
    ])
    assert store.anomaly_marks([sid], TimeRange()) == {
        sid: [[MS0, 0.7, "down"], [MS0 + 30_000, 0.9, "up"]]}
    assert store.anomaly_marks([sid], TimeRange(start=at)) == {sid: [[MS0 + 30_000, 0.9, "up"]]}


def test_bands_follow_the_samples_retention(stores: Stores) -> None:
    store = stores.open(retention={"samples": timedelta(days=3)})
    old, new = T0 - timedelta(days=10), T0
    store.append_bands([("a", old, 1.0, 0.0, 2.0), ("a", new, 1.0, 0.0, 2.0)])
    deleted = store.apply_retention(T0)
    assert deleted["bands"] == 1
    assert [p[0] for p in store.query_bands(["a"], TimeRange())["a"]] == [MS0]
    assert "bands" not in store.apply_retention(T0)  # nothing more to delete


def test_sample_history_in_time_order_and_batches(store: AnyStore) -> None:
    samples = [
        MetricSample(name="mem", labels={"host": "b"}, value=2.0, ts=T0 + timedelta(seconds=10)),
        MetricSample(name="cpu", labels={"host": "a"}, value=1.0, ts=T0 + timedelta(seconds=10)),
        MetricSample(name="cpu", labels={"host": "a"}, value=math.nan, ts=T0),
        MetricSample(name="cpu", labels={"host": "a"}, value=9.0, ts=T0 - timedelta(days=1)),
    ]
    store.append_samples(samples)
    cpu, mem = series_id("cpu", {"host": "a"}), series_id("mem", {"host": "b"})
    batches = list(store.sample_history(T0, None, batch_rows=2))
    assert [len(b.series) for b in batches] == [2, 1]
    series = [s for b in batches for s in b.series]
    names = [n for b in batches for n in b.names]
    ts = [t for b in batches for t in b.ts]
    values = [v for b in batches for v in b.values]
    at10 = sorted([(cpu, "cpu", 1.0), (mem, "mem", 2.0)])
    assert list(zip(series, names, strict=True)) == [(cpu, "cpu")] + [(s, n) for s, n, _ in at10]
    assert ts == [T0.timestamp(), T0.timestamp() + 10, T0.timestamp() + 10]
    assert math.isnan(values[0]) and values[1:] == [v for _, _, v in at10]
    # The end bound is exclusive; the start bound keeps the older sample out above.
    until = list(store.sample_history(None, T0, batch_rows=100))
    assert [b.values for b in until] == [[9.0]]
    with pytest.raises(ValidationFailed):
        list(store.sample_history(None, None, batch_rows=0))


def test_version_3_database_gains_the_band_table(tmp_path: Path) -> None:
    path = tmp_path / "v3.duckdb"
    con = duckdb.connect(str(path))
    assert migrate(con, target=3) == 3
    con.close()
    with DuckDBStore(path) as store:
        assert store.schema_version >= 4
        store.append_bands([band("a", 0, 1.0)])
        assert store.query_bands(["a"], TimeRange())["a"] == [[MS0, 1.0, 0.0, 2.0]]
