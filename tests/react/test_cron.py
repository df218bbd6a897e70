"""Cron expressions of schedule rules: parsing, next run times, time zones, the engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from react_kit import Receiver, make_engine

from opscope.model.execution import ExecutionStatus
from opscope.react.cron import CronError, CronExpr
from opscope.react.rules import RuleError, parse_rules


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("*/15 * * * *", utc(2024, 5, 1, 12, 7), utc(2024, 5, 1, 12, 15)),
        ("*/15 * * * *", utc(2024, 5, 1, 12, 15), utc(2024, 5, 1, 12, 30)),
        ("5 4 * * *", utc(2024, 5, 1, 4, 5, 30), utc(2024, 5, 2, 4, 5)),
        # Friday 2024-05-03 10:00 -> Monday 09:00
        ("0 9 * * mon-fri", utc(2024, 5, 3, 10, 0), utc(2024, 5, 6, 9, 0)),
        ("0 0 1 jan,jul *", utc(2024, 2, 10), utc(2024, 7, 1)),
        ("@monthly", utc(2024, 1, 31, 23, 59), utc(2024, 2, 1)),
        ("@hourly", utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 1, 0)),
        ("0 0 * * 7", utc(2024, 5, 1), utc(2024, 5, 5)),  # 7 is Sunday as 0 is
        ("0 0 29 2 *", utc(2025, 3, 1), utc(2028, 2, 29)),
        ("10-20/5 3 * * *", utc(2024, 5, 1, 3, 16), utc(2024, 5, 1, 3, 20)),
        ("30/10 * * * *", utc(2024, 5, 1, 3, 51), utc(2024, 5, 1, 4, 30)),
    ],
)
def test_next_run_time(expr: str, after: datetime, expected: datetime) -> None:
    assert CronExpr.parse(expr).next_after(after) == expected


def test_both_day_fields_restricted_match_either() -> None:
    # As in cron: the 13th of each month and every Friday.
    expr = CronExpr.parse("0 0 13 * fri")
    runs = expr.between(utc(2024, 9, 1), utc(2024, 10, 1), limit=100)
    assert [r.day for r in runs] == [6, 13, 20, 27]  # Sep 13th 2024 is a Friday too
    runs = expr.between(utc(2024, 10, 1), utc(2024, 11, 1), limit=100)
    assert [r.day for r in runs] == [4, 11, 13, 18, 25, 1]  # the end is included: Nov 1st


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "has 4 fields"),
        ("61 * * * *", "minute: 61 is outside 0-59"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("5-2 * * * *", "range '5-2' runs backwards"),
        ("* * * foo *", "month: 'foo' is not a number or a known name"),
        ("1,,2 * * * *", "empty list item"),
        ("0 0 31 2 *", "never fires"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        CronExpr.parse(expr)


def test_unknown_time_zone_is_an_error() -> None:
    with pytest.raises(CronError, match="unknown time zone 'Mars/Olympus'"):
        CronExpr.parse("0 9 * * *", "Mars/Olympus")


def test_wall_clock_time_follows_the_zone_across_seasons() -> None:
    expr = CronExpr.parse("0 9 * * *", "Europe/Berlin")
    assert expr.next_after(utc(2024, 7, 1)) == utc(2024, 7, 1, 7)  # CEST, UTC+2
    assert expr.next_after(utc(2024, 12, 1)) == utc(2024, 12, 1, 8)  # CET, UTC+1


def test_daylight_saving_gap_and_overlap_fire_once() -> None:
    expr = CronExpr.parse("30 2 * * *", "Europe/Berlin")
    # 2024-03-31 02:30 does not exist in Berlin: the run shifts to 03:30 CEST.
    spring = expr.between(utc(2024, 3, 30, 12), utc(2024, 4, 1, 12), limit=10)
    assert spring == [utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30)]
    # 2024-10-27 02:30 happens twice: the run happens in the first pass only.
    autumn = expr.between(utc(2024, 10, 26, 12), utc(2024, 10, 28, 12), limit=10)
    assert autumn == [utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]


def test_between_keeps_only_the_newest_runs() -> None:
    runs = CronExpr.parse("@hourly").between(utc(2024, 1, 1), utc(2024, 1, 2), limit=3)
    assert runs == [utc(2024, 1, 1, 22), utc(2024, 1, 1, 23), utc(2024, 1, 2)]


def test_rule_file_errors_name_the_cron_problem() -> None:
    bad = """
rules:
  - name: nightly
    trigger: {on: schedule, cron: "0 25 * * *"}
    actions: [{kind: webhook, with: {url: "http://127.0.0.1:1/x"}}]
"""
    with pytest.raises(RuleError) as info:
        parse_rules(bad)
    assert "hour: 25 is outside 0-23" in str(info.value)
    both = bad.replace('cron: "0 25 * * *"', 'cron: "@daily", every: 1h')
    with pytest.raises(RuleError) as info:
        parse_rules(both)
    assert "not both" in str(info.value)


def test_engine_fires_cron_rules_at_their_times(receiver: Receiver) -> None:
    # The kit's clock starts at 2024-05-01 12:00 UTC.
    engine, _, clock = make_engine(f"""
rules:
  - name: quarter-hourly
    trigger: {{on: schedule, cron: "*/15 * * * *", catch_up: 10m}}
    actions:
      - kind: webhook
        with: {{url: "{receiver.url}/s", body: {{at: "{{{{ schedule.at }}}}"}}}}
""")
    # At start-up a run missed no longer ago than catch_up fires late: 12:00 itself.
    assert [e.status for e in engine.tick()] == [ExecutionStatus.SUCCEEDED]
    clock.advance(timedelta(minutes=10))
    assert engine.tick() == []
    clock.advance(timedelta(minutes=40))  # 12:50: 12:15, 12:30, 12:45 were due
    assert len(engine.tick()) == 3
    assert [b["at"] for b in receiver.bodies()] == [
        "2024-05-01T12:00:00+00:00",
        "2024-05-01T12:15:00+00:00",
        "2024-05-01T12:30:00+00:00",
        "2024-05-01T12:45:00+00:00",
    ]
