from datetime import UTC, datetime

import pytest

from opscope.collect.batch import (
    MAX_PROBLEMS,
    BatchResult,
    Problem,
    field_path,
    validate_items,
    validate_json_items,
)
from opscope.errors import PayloadTooLarge
from opscope.model import Event, LogRecord

NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def _log(i: int, **extra: object) -> dict[str, object]:
    return {"ts": "2026-11-26T20:00:00Z", "message": f"line {i}", **extra}


def test_all_valid_items_are_returned_in_order() -> None:
    result = validate_items(LogRecord, [_log(i) for i in range(5)], max_items=10)
    assert result.ok
    assert [r.message for r in result.items] == [f"line {i}" for i in range(5)]
    assert result.items[0].ts == datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def test_bad_items_become_problems_and_the_rest_is_kept() -> None:
    items = [
        _log(0),
        {"message": "bad ts", "ts": "last tuesday"},
        _log(2, attributes={"host": 5}),
        "not an object",
        _log(4),
    ]
    result = validate_items(LogRecord, items, max_items=10)
    assert [r.message for r in result.items] == ["line 0", "line 4"]
    by_index = {p.index: p for p in result.problems}
    assert set(by_index) == {1, 2, 3}
    assert by_index[1].field == "ts"
    assert "datetime" in by_index[1].message.lower()
    assert by_index[2].field == "attributes.host"
    assert by_index[3].field == "$"


def test_event_field_paths_are_dotted() -> None:
    items = [
        {"source": "s", "name": "A", "starts_at": "2026-01-01T00:00:00Z",
         "labels": {"severity": 3}},
        {"source": "s", "name": "B", "starts_at": "2026-01-02T00:00:00Z",
         "ends_at": "2026-01-01T00:00:00Z"},
        {"source": "s", "name": "C", "starts_at": "yesterday"},
    ]
    result = validate_items(Event, items, max_items=10)
    assert result.items == []
    fields = {p.index: p.field for p in result.problems}
    assert fields == {0: "labels.severity", 1: "$", 2: "starts_at"}
    assert any(p.message == "ends_at is before starts_at" for p in result.problems)


def test_defaults_fill_only_absent_fields() -> None:
    items = [_log(0), _log(1, source="shipper")]
    result = validate_items(LogRecord, items, max_items=10, defaults={"source": "api"})
    assert [r.source for r in result.items] == ["api", "shipper"]
    events = validate_items(Event, [{"source": "s", "name": "A",
                                     "starts_at": "2026-01-01T00:00:00Z"}],
                            max_items=1, defaults={"received_at": NOW, "source": "x"})
    assert events.items[0].received_at == NOW
    assert events.items[0].source == "s"


@pytest.mark.parametrize("value", [{}, "x", None, 3])
def test_a_non_list_is_one_batch_problem(value: object) -> None:
    result = validate_items(LogRecord, value, max_items=10)
    assert result.items == []
    assert result.problems == [Problem(None, "$", result.problems[0].message)]
    assert "array" in result.problems[0].message


def test_too_many_items_raise() -> None:
    with pytest.raises(PayloadTooLarge) as info:
        validate_items(LogRecord, [_log(i) for i in range(3)], max_items=2)
    assert info.value.details == {"count": 3, "limit": 2}


def test_problems_are_capped() -> None:
    items = [{"message": "no message needed", "ts": "never"}] * (MAX_PROBLEMS + 50)
    result = validate_items(LogRecord, items, max_items=10_000)
    assert len(result.problems) == MAX_PROBLEMS + 1
    assert result.problems[-1].index is None


def test_missing_time_is_stamped_at_receipt() -> None:
    result = validate_items(LogRecord, [{"message": "no ts"}], max_items=10)
    assert not result.problems
    assert result.items[0].ts.tzinfo is not None


def test_json_fast_path_matches_the_lenient_path() -> None:
    good = b'[{"message": "a", "ts": 1700000000}, {"message": "b", "ts": "2026-01-01T00:00:00Z"}]'
    fast = validate_json_items(LogRecord, good, max_items=10)
    assert [r.message for r in fast.items] == ["a", "b"] and not fast.problems
    bad = b'[{"message": "a", "ts": 1700000000}, {"message": "b", "ts": "soon"}]'
    slow = validate_json_items(LogRecord, bad, max_items=10)
    assert [r.message for r in slow.items] == ["a"]
    assert [(p.index, p.field) for p in slow.problems] == [(1, "ts")]


def test_problem_as_dict_and_field_path() -> None:
    assert Problem(3, "labels.x", "bad").as_dict() == {"index": 3, "field": "labels.x",
                                                       "message": "bad"}
    assert field_path(("params", 2)) == "params[2]"
    assert field_path(()) == "$"


def test_extend_merges_results() -> None:
    a: BatchResult[int] = BatchResult([1], [Problem(0, "$", "x")])
    a.extend(BatchResult([2], [Problem(1, "$", "y")]))
    assert a.items == [1, 2]
    assert [p.message for p in a.problems] == ["x", "y"]
