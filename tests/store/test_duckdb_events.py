"""Events: identity, dedup, update and reopen rules, history, query filters and paging."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from store_backends import AnyStore, Stores
from store_clock import T0, ManualClock

from opscope.errors import ValidationFailed
from opscope.model import Event
from opscope.store.ports import EventQuery, LabelMatcher, TimeRange


def alert(**kw: Any) -> Event:
    fields: dict[str, Any] = {
        "source": "alertmanager", "name": "HighLatency", "entity": "checkout",
        "labels": {"env": "prod", "team": "payments"}, "starts_at": T0,
        "summary": "p99 latency above 2s",
    }
    fields.update(kw)
    return Event(**fields)


def test_same_alert_twice_is_one_event_updated(store: AnyStore, clock: ManualClock) -> None:
    first = alert()
    assert store.upsert_events([first]).inserted == 1
    clock.advance(60)
    again = alert(severity="critical", summary="p99 latency above 5s",
                  annotations={"runbook": "r1"}, fingerprint=first.fingerprint,
                  labels={"env": "prod", "team": "payments", "extra": "1"})
    result = store.upsert_events([again])
    assert (result.inserted, result.updated) == (0, 1)
    row = store.get_event("alertmanager", first.fingerprint)
    assert row is not None
    assert row["repeat_count"] == 1 and row["reopen_count"] == 0
    assert row["severity"] == "critical" and row["summary"] == "p99 latency above 5s"
    assert row["annotations"] == {"runbook": "r1"}
    assert row["labels"]["extra"] == "1"
    assert row["first_seen"] == "2024-03-01T12:00:00Z"
    assert row["last_seen"] == "2024-03-01T12:01:00Z"
    assert row["starts_at"] == "2024-03-01T12:00:00Z"
    assert store.query_events(EventQuery()).items == [row]


def test_duplicates_inside_one_batch_collapse(store: AnyStore) -> None:
    e = alert()
    resolved = alert(status="resolved", ends_at=T0 + timedelta(minutes=5))
    result = store.upsert_events([e, e, alert(name="Other"), e, resolved])
    assert (result.inserted, result.updated) == (2, 0)
    row = store.get_event("alertmanager", e.fingerprint)
    assert row is not None
    assert row["repeat_count"] == 3
    assert row["status"] == "resolved" and row["ends_at"] == "2024-03-01T12:05:00Z"
    assert len(store.query_events(EventQuery()).items) == 2
    assert len(store.event_history("alertmanager", e.fingerprint).items) == 4


def test_resolved_alert_firing_again_reopens(store: AnyStore) -> None:
    store.upsert_events([alert()])
    store.upsert_events([alert(status="resolved", ends_at=T0 + timedelta(minutes=10))])
    later = T0 + timedelta(hours=1)
    store.upsert_events([alert(starts_at=later, ends_at=later + timedelta(hours=2))])
    row = store.get_event("alertmanager", alert().fingerprint)
    assert row is not None
    assert row["status"] == "firing"
    assert row["starts_at"] == "2024-03-01T13:00:00Z"
    assert row["ends_at"] is None
    assert row["reopen_count"] == 1 and row["repeat_count"] == 2


def test_reopen_inside_one_batch(store: AnyStore) -> None:
    later = T0 + timedelta(hours=1)
    store.upsert_events([
        alert(), alert(status="resolved", ends_at=T0 + timedelta(minutes=1)),
        alert(starts_at=later),
    ])
    row = store.get_event("alertmanager", alert().fingerprint)
    assert row is not None
    assert (row["status"], row["reopen_count"], row["starts_at"]) == (
        "firing", 1, "2024-03-01T13:00:00Z")


def test_late_firing_after_resolve_is_counted_but_does_not_reopen(store: AnyStore) -> None:
    store.upsert_events([alert(), alert(status="resolved", ends_at=T0 + timedelta(minutes=3))])
    store.upsert_events([alert()])  # a retry of the original firing notification
    row = store.get_event("alertmanager", alert().fingerprint)
    assert row is not None
    assert (row["status"], row["reopen_count"], row["repeat_count"]) == ("resolved", 0, 2)
    assert row["ends_at"] == "2024-03-01T12:03:00Z"


def test_notification_about_an_older_occurrence_changes_nothing(store: AnyStore) -> None:
    later = T0 + timedelta(hours=1)
    store.upsert_events([alert(starts_at=later)])
    store.upsert_events([alert(status="resolved", ends_at=T0 + timedelta(minutes=1),
                               severity="info")])
    row = store.get_event("alertmanager", alert().fingerprint)
    assert row is not None
    assert (row["status"], row["severity"], row["repeat_count"]) == ("firing", "warning", 1)


def test_resolved_without_end_ends_when_received(store: AnyStore, clock: ManualClock) -> None:
    store.upsert_events([alert()])
    clock.advance(300)
    store.upsert_events([alert(status="resolved")])
    row = store.get_event("alertmanager", alert().fingerprint)
    assert row is not None and row["ends_at"] == "2024-03-01T12:05:00Z"


def test_received_at_given_by_sender_is_kept(store: AnyStore) -> None:
    store.upsert_events([alert(received_at=T0 - timedelta(days=1))])
    row = store.get_event("alertmanager", alert().fingerprint)
    assert row is not None and row["first_seen"] == "2024-02-29T12:00:00Z"


def test_history_keeps_every_notification_newest_first(
    store: AnyStore, clock: ManualClock
) -> None:
    for status in ("firing", "firing", "resolved"):
        store.upsert_events([alert(status=status)])
        clock.advance(60)
    page = store.event_history("alertmanager", alert().fingerprint, limit=2)
    assert [r["status"] for r in page.items] == ["resolved", "firing"]
    assert page.next_cursor is not None
    rest = store.event_history("alertmanager", alert().fingerprint, cursor=page.next_cursor)
    assert [r["received_at"] for r in rest.items] == ["2024-03-01T12:00:00Z"]
    assert rest.next_cursor is None
    assert store.get_event("alertmanager", "nope") is None


@pytest.fixture(scope="module")
def populated(module_stores: Stores) -> AnyStore:
    """Shared by the read-only query tests (opening a store per case is the slow part)."""
    store = module_stores.open(clock=ManualClock())
    store.upsert_events([
        alert(name="HighLatency", entity="checkout", severity="critical",
              labels={"env": "prod", "team": "payments"}),
        alert(name="DiskFull", entity="db-1", severity="warning", source="zabbix",
              labels={"env": "staging", "mount": "/var"}, starts_at=T0 + timedelta(hours=1),
              summary="Disk 97% full"),
        alert(name="PodCrashLooping", entity="cart", severity="error", status="resolved",
              labels={"env": "prod", "namespace": "shop"}, starts_at=T0 + timedelta(hours=2),
              ends_at=T0 + timedelta(hours=3)),
        alert(name="Heartbeat", entity="cart", severity="info", labels={},
              starts_at=T0 + timedelta(hours=3), summary=""),
    ])
    return store


def names(store: AnyStore, **kw: Any) -> list[str]:
    return [r["name"] for r in store.query_events(EventQuery(**kw)).items]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["Heartbeat", "PodCrashLooping", "DiskFull", "HighLatency"]),
        ({"time": TimeRange(T0 + timedelta(hours=1), T0 + timedelta(hours=3))},
         ["PodCrashLooping", "DiskFull"]),
        ({"time": TimeRange(start=T0 + timedelta(hours=2))}, ["Heartbeat", "PodCrashLooping"]),
        ({"entity": "cart"}, ["Heartbeat", "PodCrashLooping"]),
        ({"source": "zabbix"}, ["DiskFull"]),
        ({"status": "resolved"}, ["PodCrashLooping"]),
        ({"status": "FIRING"}, ["Heartbeat", "DiskFull", "HighLatency"]),
        ({"severity": ["critical", "err"]}, ["PodCrashLooping", "HighLatency"]),
        ({"labels": [LabelMatcher("env", "=", "prod")]}, ["PodCrashLooping", "HighLatency"]),
        ({"labels": [LabelMatcher("env", "!=", "prod")]}, ["Heartbeat", "DiskFull"]),
        ({"labels": [LabelMatcher("env", "=", "")]}, ["Heartbeat"]),
        ({"labels": [LabelMatcher("env", "=~", "prod|stag.*")]},
         ["PodCrashLooping", "DiskFull", "HighLatency"]),
        ({"labels": [LabelMatcher("env", "=~", "pro")]}, []),  # regexes match whole values
        ({"labels": [LabelMatcher("env", "!~", "prod")]}, ["Heartbeat", "DiskFull"]),
        ({"labels": [LabelMatcher("env", "=", "prod"), LabelMatcher("team", "=~", ".+")]},
         ["HighLatency"]),
        ({"text": "disk"}, ["DiskFull"]),
        ({"text": "97%"}, ["DiskFull"]),
        ({"text": "P99 LATENCY"}, ["PodCrashLooping", "HighLatency"]),
        ({"text": "namespace"}, ["PodCrashLooping"]),
        ({"text": "shop"}, ["PodCrashLooping"]),
        ({"text": "_"}, []),
        ({"entity": "cart", "severity": ["info"]}, ["Heartbeat"]),
    ],
)
def test_query_filters(populated: AnyStore, query: dict[str, Any], expected: list[str]) -> None:
    assert names(populated, **query) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"severity": ["bogus"]}, "severity"),
        ({"status": "open"}, "status"),
        ({"labels": [LabelMatcher("env", "==", "x")]}, "labels[0].op"),
        ({"labels": [LabelMatcher("env", "=~", "a(")]}, "labels[0].value"),
        ({"limit": 0}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"time": TimeRange(T0, T0 - timedelta(1))}, "time"),
    ],
)
def test_bad_queries_name_the_field(populated: AnyStore, query: dict[str, Any],
                                    field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        populated.query_events(EventQuery(**query))
    assert err.value.problems[0]["field"] == field


def test_paging_many_pages_without_loss_or_duplicates(store: AnyStore) -> None:
    # 25 events, several sharing a start time, so the tiebreaker matters.
    events = [alert(name=f"A{i}", starts_at=T0 + timedelta(minutes=i // 3)) for i in range(25)]
    store.upsert_events(events)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.query_events(EventQuery(limit=7, cursor=cursor))
        seen.extend(r["name"] for r in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        # A new event arriving mid-walk sorts before the cursor and must not disturb it.
        store.upsert_events([alert(name=f"late{pages}", starts_at=T0 + timedelta(days=1))])
    assert pages == 4
    assert sorted(seen) == sorted(e.name for e in events)
    assert len(seen) == len(set(seen)) == 25


def test_limit_is_capped(store: AnyStore) -> None:
    store.upsert_events([alert(name=f"A{i}") for i in range(1005)])
    page = store.query_events(EventQuery(limit=5000))
    assert len(page.items) == 1000 and page.next_cursor is not None


def test_start_times_are_compared_to_the_second(store: AnyStore) -> None:
    # Alertmanager may drop the fraction of startsAt in the resolved notification.
    firing = alert(starts_at=T0 + timedelta(seconds=22, microseconds=134_222))
    store.upsert_events([firing])
    store.upsert_events([alert(status="resolved", starts_at=T0 + timedelta(seconds=22),
                               ends_at=T0 + timedelta(seconds=22), fingerprint=firing.fingerprint)])
    row = store.get_event("alertmanager", firing.fingerprint)
    assert row is not None
    assert (row["status"], row["reopen_count"]) == ("resolved", 0)
    assert row["starts_at"] == "2024-03-01T12:00:22.134222Z"
