from datetime import UTC, datetime

import pytest

from opscope.collect.logs import guess_level, parse_log_lines
from opscope.errors import PayloadTooLarge
from opscope.model import Level

NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("2026-11-26 20:00:01 ERROR payment gateway timeout", Level.ERROR),
        ("2026-11-26 20:00:01,123 WARN  [main] pool nearly full", Level.WARNING),
        ("INFO: started", Level.INFO),
        ("[debug] cache hit", Level.DEBUG),
        ('{"level":"warning","msg":"slow"}', Level.WARNING),
        ("ts=1 level=error msg=boom", Level.ERROR),
        ("<FATAL> out of memory", Level.FATAL),
        ("no error occurred here", Level.UNKNOWN),
        ("ERRORS_TOTAL=3", Level.UNKNOWN),
        ("something happened", Level.UNKNOWN),
        ("x" * 300 + " ERROR late", Level.UNKNOWN),
    ],
)
def test_guess_level(line: str, level: Level) -> None:
    assert guess_level(line) is level


def test_one_record_per_non_blank_line() -> None:
    text = "first ERROR line\r\n\n   \nsecond line\x0cwith form feed\nthird"
    result = parse_log_lines(text, NOW, "api", "checkout", max_lines=10)
    assert result.ok
    assert [r.message for r in result.items] == [
        "first ERROR line", "second line\x0cwith form feed", "third"]
    assert [r.level for r in result.items] == [Level.ERROR, Level.UNKNOWN, Level.UNKNOWN]
    first = result.items[0]
    assert (first.ts, first.source, first.entity) == (NOW, "api", "checkout")


def test_too_long_line_is_a_problem_with_its_line_number() -> None:
    text = "ok\n\n" + "x" * 70_000 + "\nok again"
    result = parse_log_lines(text, NOW, "api", "", max_lines=10)
    assert [r.message for r in result.items] == ["ok", "ok again"]
    assert [(p.index, p.field) for p in result.problems] == [(3, "line")]


def test_line_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_log_lines("a\nb\nc", NOW, "api", "", max_lines=2)
    assert len(parse_log_lines("a\n\n\nb", NOW, "api", "", max_lines=2).items) == 2


def test_overlong_source_is_a_problem() -> None:
    result = parse_log_lines("a", NOW, "s" * 300, "", max_lines=2)
    assert result.items == [] and result.problems[0].field == "source"
