"""Retention per kind of data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_backends import AnyStore, Stores
from store_clock import T0, ManualClock

from opscope.errors import ConfigError
from opscope.model import (
    Anomaly,
    AnomalyVerdict,
    Change,
    Event,
    LogRecord,
    MetricSample,
    Ticket,
    Verdict,
)
from opscope.store.ports import EventQuery, LogQuery, RecordQuery, SeriesQuery

DAY = timedelta(days=1)


def test_apply_retention_deletes_old_rows_and_counts_them(stores: Stores,
                                                          clock: ManualClock) -> None:
    store = stores.open(retention={
        "events": 7 * DAY, "logs": 2 * DAY, "samples": 3 * DAY, "anomalies": 5 * DAY,
        "changes": 30 * DAY, "tickets": 10 * DAY,
    }, clock=clock)
    old, new = T0 - 40 * DAY, T0
    clock.now = old
    store.upsert_events([Event(source="s", name="old", starts_at=old)])
    clock.now = new
    store.upsert_events([Event(source="s", name="new", starts_at=old)])  # old start, seen now
    store.append_logs([LogRecord(ts=t, message="m") for t in (old, new, new - 3 * DAY)])
    store.append_samples([MetricSample(name="m", value=1, ts=t) for t in (old, old, new)])
    store.append_samples([MetricSample(name="gone", value=1, ts=old)])
    store.append_anomalies([Anomaly(kind="k", subject=str(i), ts=t)
                            for i, t in enumerate((old, new))])
    store.append_changes([Change(entity="e", ts=t) for t in (old, new)])
    store.upsert_tickets([
        Ticket(id="closed", title="t", created_at=old, resolved_at=old + DAY),
        Ticket(id="open", title="t", created_at=old),
        Ticket(id="recent", title="t", created_at=old, resolved_at=new),
    ])

    deleted = store.apply_retention(T0)
    assert deleted == {"events": 1, "event_history": 1, "logs": 2, "samples": 3,
                       "series": 1, "anomalies": 1, "changes": 1, "tickets": 1}
    assert [s["name"] for s in store.list_series(None, [], 10)] == ["m"]
    # The series cache was dropped: the expired series comes back with its next sample.
    store.append_samples([MetricSample(name="gone", value=2, ts=new)])
    assert store.query_series(SeriesQuery(name="gone"))[0]["points"][0][1] == 2
    assert [e["name"] for e in store.query_events(EventQuery()).items] == ["new"]
    assert len(store.query_logs(LogQuery()).items) == 1
    assert len(store.query_series(SeriesQuery(name="m"))[0]["points"]) == 1
    assert sorted(t["id"] for t in store.query_tickets(RecordQuery()).items) == [
        "open", "recent"]
    assert store.apply_retention(T0)["logs"] == 0
    store.close()


def test_verdicts_follow_the_anomalies_retention(stores: Stores, clock: ManualClock) -> None:
    store = stores.open(retention={"anomalies": 5 * DAY}, clock=clock)
    # Aged by when the verdict was given: a late verdict on an old anomaly is kept.
    for anomaly_id, given in (("old", T0 - 40 * DAY), ("old", T0 - DAY), ("new", T0 - 6 * DAY)):
        store.record_verdict(AnomalyVerdict(anomaly_id=anomaly_id, verdict=Verdict.CONFIRMED,
                                            ts=given))
    assert store.apply_retention(T0) == {"anomalies": 0, "anomaly_verdicts": 2}
    kept = store.anomaly_verdicts(["old", "new"])
    assert list(kept) == ["old"] and [v["ts"] for v in kept["old"]] == [
        "2024-02-29T12:00:00Z"]
    assert store.apply_retention(T0) == {"anomalies": 0}
    store.close()


def test_an_event_deleted_by_retention_comes_back_as_new(stores: Stores,
                                                         clock: ManualClock) -> None:
    store = stores.open(retention={"events": 7 * DAY}, clock=clock)
    event = Event(source="s", name="flappy", starts_at=T0 - 40 * DAY)
    clock.now = T0 - 40 * DAY
    store.upsert_events([event, event])  # stored, and remembered by the writer
    clock.now = T0
    assert store.apply_retention(T0)["events"] == 1
    assert store.upsert_events([event]).inserted == 1
    row = store.get_event("s", event.fingerprint)
    assert row is not None and row["repeat_count"] == 0
    store.close()


def test_no_retention_deletes_nothing(store: AnyStore) -> None:
    store.append_logs([LogRecord(ts=T0 - 1000 * DAY, message="m")])
    assert store.apply_retention(T0) == {}
    assert len(store.query_logs(LogQuery()).items) == 1


@pytest.mark.parametrize(
    "retention", [{"metrics": DAY}, {"logs": timedelta(0)}, {"logs": -DAY}],
)
def test_bad_retention_is_a_config_error(stores: Stores,
                                        retention: dict[str, timedelta]) -> None:
    with pytest.raises(ConfigError, match="retention"):
        stores.open(retention=retention)


def test_verdict_numbers_are_not_given_again_after_retention(stores: Stores,
                                                            clock: ManualClock) -> None:
    # Analysis reads verdicts after a saved number: one given twice would be skipped.
    store = stores.open(retention={"anomalies": 5 * DAY}, clock=clock, durable=True)
    for _ in range(3):
        store.record_verdict(AnomalyVerdict(anomaly_id="a", verdict=Verdict.FALSE_ALARM,
                                            ts=T0 - 10 * DAY))
    _, last = store.false_alarms_after(0, 10)
    assert store.apply_retention(T0)["anomaly_verdicts"] == 3
    again = stores.reopen(store, retention={"anomalies": 5 * DAY}, clock=clock)
    again.record_verdict(AnomalyVerdict(anomaly_id="a", verdict=Verdict.FALSE_ALARM, ts=T0))
    _, newer = again.false_alarms_after(last, 10)
    assert newer > last
