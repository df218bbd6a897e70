"""Logs: append, every filter, paging through equal timestamps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from store_backends import AnyStore, Stores
from store_clock import T0, ManualClock

from opscope.errors import ValidationFailed
from opscope.model import LogRecord
from opscope.store.ports import EventQuery, LogQuery, TimeRange


def line(message: str, seconds: float = 0, **kw: Any) -> LogRecord:
    return LogRecord(ts=T0 + timedelta(seconds=seconds), message=message, **kw)


@pytest.fixture(scope="module")
def populated(module_stores: Stores) -> AnyStore:
    """Shared by the read-only query tests (opening a store per case is the slow part)."""
    store = module_stores.open(clock=ManualClock())
    result = store.append_logs([
        line("Connection refused to db-1:5432", 0, source="syslog", entity="checkout",
             level="ERROR", attributes={"pid": "42"}, template_id="t-conn",
             params=["db-1:5432"]),
        line("user alice logged in", 10, source="app", entity="auth", level="info"),
        line("disk 100% full on /var", 20, source="syslog", entity="db-1", level="warn"),
        line("Connection refused to db-2:5432", 30, source="syslog", entity="cart",
             level="err", template_id="t-conn", params=["db-2:5432"]),
        line("heartbeat", 40, source="app", entity="auth", level="debug"),
    ])
    assert result.inserted == 5
    return store


def messages(store: AnyStore, **kw: Any) -> list[str]:
    return [r["message"] for r in store.query_logs(LogQuery(**kw)).items]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["heartbeat", "Connection refused to db-2:5432", "disk 100% full on /var",
              "user alice logged in", "Connection refused to db-1:5432"]),
        ({"time": TimeRange(T0 + timedelta(seconds=10), T0 + timedelta(seconds=30))},
         ["disk 100% full on /var", "user alice logged in"]),
        ({"entity": "auth"}, ["heartbeat", "user alice logged in"]),
        ({"source": "syslog", "entity": "db-1"}, ["disk 100% full on /var"]),
        ({"level": ["error"]},
         ["Connection refused to db-2:5432", "Connection refused to db-1:5432"]),
        ({"level": ["warning", "debug"]}, ["heartbeat", "disk 100% full on /var"]),
        ({"text": "CONNECTION REFUSED"},
         ["Connection refused to db-2:5432", "Connection refused to db-1:5432"]),
        ({"text": "100%"}, ["disk 100% full on /var"]),
        ({"text": "0%"}, ["disk 100% full on /var"]),
        ({"text": "%"}, ["disk 100% full on /var"]),
        ({"text": "db-_"}, []),  # LIKE wildcards in the text are literal
        ({"template_id": "t-conn", "entity": "cart"}, ["Connection refused to db-2:5432"]),
    ],
)
def test_query_filters(populated: AnyStore, query: dict[str, Any], expected: list[str]) -> None:
    assert messages(populated, **query) == expected


def test_rows_are_json_ready(populated: AnyStore) -> None:
    row = populated.query_logs(LogQuery(entity="checkout")).items[0]
    assert row["ts"] == "2024-03-01T12:00:00Z"
    assert row["received_at"] == "2024-03-01T12:00:00Z"
    assert row["level"] == "error"
    assert row["attributes"] == {"pid": "42"}
    assert row["params"] == ["db-1:5432"]
    assert row["template_id"] == "t-conn"


def test_paging_through_equal_timestamps(store: AnyStore) -> None:
    # 2,500 lines over 10 distinct timestamps: pages must split runs of equal times.
    store.append_logs([line(f"m{i}", i % 10) for i in range(2500)])
    store.append_logs([line("x", 5)])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.query_logs(LogQuery(limit=1000, cursor=cursor, text="m"))
        seen.extend(r["message"] for r in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert len(seen) == len(set(seen)) == 2500
    times = [int(m[1:]) % 10 for m in seen]
    assert times == sorted(times, reverse=True)


def test_cursor_of_another_kind_is_refused(populated: AnyStore) -> None:
    page = populated.query_logs(LogQuery(limit=1))
    assert page.next_cursor is not None
    with pytest.raises(ValidationFailed) as err:
        populated.query_events(EventQuery(cursor=page.next_cursor))
    assert err.value.problems[0]["field"] == "cursor"


def test_empty_batch_writes_nothing(store: AnyStore) -> None:
    assert store.append_logs([]).inserted == 0
    assert store.query_logs(LogQuery()).items == []
