"""Metrics: series rows, Prometheus matchers, raw points and step aggregation."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from store_backends import AnyStore, Stores
from store_clock import T0

from opscope.errors import ValidationFailed
from opscope.model import MetricSample, series_id
from opscope.store.ports import LabelMatcher, SeriesQuery, TimeRange

MS0 = int(T0.timestamp() * 1000)  # 2024-03-01T12:00:00Z, a multiple of 60 s


def sample(value: float, seconds: float, name: str = "cpu", **labels: str) -> MetricSample:
    return MetricSample(name=name, labels=labels, value=value, ts=T0 + timedelta(seconds=seconds))


@pytest.fixture(scope="module")
def populated(module_stores: Stores) -> AnyStore:
    """Shared by the read-only query tests (opening a store per case is the slow part)."""
    store = module_stores.open()
    # Two batches so that the second one meets already stored series.
    store.append_samples([sample(float(i), 10 * i, host="a", env="prod") for i in range(6)])
    store.append_samples(
        [sample(100.0 + i, 10 * i, host="b", env="staging") for i in range(6)]
        + [sample(7.0, 0, host="c"), sample(1.0, 0, name="mem", host="a", env="prod")]
    )
    return store


def hosts(store: AnyStore, *matchers: LabelMatcher, name: str = "cpu") -> list[str]:
    rows = store.query_series(SeriesQuery(name=name, matchers=matchers))
    return sorted(r["labels"]["host"] for r in rows)


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        ((), ["a", "b", "c"]),
        ((LabelMatcher("env", "=", "prod"),), ["a"]),
        ((LabelMatcher("env", "!=", "prod"),), ["b", "c"]),
        ((LabelMatcher("env", "=", ""),), ["c"]),  # a missing label reads as ""
        ((LabelMatcher("env", "=~", "prod|staging"),), ["a", "b"]),
        ((LabelMatcher("env", "=~", "stag"),), []),  # full match, as in Prometheus
        ((LabelMatcher("env", "!~", "pro.*"),), ["b", "c"]),
        ((LabelMatcher("host", "=~", "[ab]"), LabelMatcher("env", "!=", "staging")), ["a"]),
        ((LabelMatcher("__name__", "=", "cpu"),), ["a", "b", "c"]),
    ],
)
def test_matchers(populated: AnyStore, matchers: tuple[LabelMatcher, ...],
                  expected: list[str]) -> None:
    assert hosts(populated, *matchers) == expected


def test_raw_points_are_epoch_ms_oldest_first(populated: AnyStore) -> None:
    rows = populated.query_series(SeriesQuery(
        name="cpu", matchers=[LabelMatcher("host", "=", "a")],
        time=TimeRange(T0 + timedelta(seconds=10), T0 + timedelta(seconds=40)),
    ))
    assert len(rows) == 1
    row = rows[0]
    assert row["series_id"] == series_id("cpu", {"host": "a", "env": "prod"})
    assert row["entity"] == "a" and row["name"] == "cpu"
    assert row["labels"] == {"host": "a", "env": "prod"}
    assert row["points"] == [[MS0 + 10_000, 1.0], [MS0 + 20_000, 2.0], [MS0 + 30_000, 3.0]]


@pytest.mark.parametrize(
    ("agg", "expected"),
    # host a: values 0..5 at 0,10,..,50 s; 30 s buckets hold (0,1,2) and (3,4,5).
    [("avg", [1.0, 4.0]), ("min", [0.0, 3.0]), ("max", [2.0, 5.0]), ("sum", [3.0, 12.0]),
     ("last", [2.0, 5.0])],
)
def test_step_aggregation(populated: AnyStore, agg: str, expected: list[float]) -> None:
    rows = populated.query_series(SeriesQuery(
        name="cpu", matchers=[LabelMatcher("host", "=", "a")], step_seconds=30, agg=agg))
    assert rows[0]["points"] == [[MS0, expected[0]], [MS0 + 30_000, expected[1]]]


def test_buckets_are_aligned_on_the_epoch_and_skip_nan(store: AnyStore) -> None:
    store.append_samples([
        sample(1.0, 50), sample(3.0, 70), sample(math.nan, 80), sample(5.0, 130),
    ])
    raw = store.query_series(SeriesQuery(name="cpu"))[0]["points"]
    assert raw[2] == [MS0 + 80_000, None]
    rows = store.query_series(SeriesQuery(name="cpu", step_seconds=60, agg="avg"))
    assert rows[0]["points"] == [[MS0, 1.0], [MS0 + 60_000, 3.0], [MS0 + 120_000, 5.0]]


def test_list_series(populated: AnyStore) -> None:
    every = populated.list_series(None, [], 100)
    assert [r["name"] for r in every] == ["cpu", "cpu", "cpu", "mem"]
    assert len({r["series_id"] for r in every}) == 4
    prod = populated.list_series("cpu", [LabelMatcher("env", "=", "prod")], 10)
    assert [(r["labels"]["host"], r["first_ts"]) for r in prod] == [("a", "2024-03-01T12:00:00Z")]
    assert len(populated.list_series(None, [], 2)) == 2


def test_max_series_and_unknown_name(populated: AnyStore) -> None:
    assert len(populated.query_series(SeriesQuery(name="cpu", max_series=2))) == 2
    assert populated.query_series(SeriesQuery(name="nope")) == []


def test_series_rows_are_not_duplicated(store: AnyStore) -> None:
    for _ in range(3):
        store.append_samples([sample(1.0, 0, host="a"), sample(2.0, 1, host="a")])
    assert len(store.list_series("cpu", [], 10)) == 1
    assert len(store.query_series(SeriesQuery(name="cpu"))[0]["points"]) == 6


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"agg": "median"}, "agg"),
        ({"step_seconds": 0}, "step_seconds"),
        ({"max_series": 0}, "max_series"),
        ({"matchers": [LabelMatcher("host", "=~", "(")]}, "matchers[0].value"),
        ({"matchers": [LabelMatcher("", "=", "x")]}, "matchers[0].name"),
    ],
)
def test_bad_queries_name_the_field(populated: AnyStore, query: dict[str, Any],
                                    field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        populated.query_series(SeriesQuery(name="cpu", **query))
    assert err.value.problems[0]["field"] == field
