"""Cron-like recurring windows: 'minute hour day-of-month month day-of-week' plus a length.

Only what maintenance windows need: ``*``, lists, ranges, steps and day/month names. As in
cron, when both day-of-month and day-of-week are restricted a day matching either counts.
"""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opscope.errors import ValidationFailed

_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}


def _value(token: str, names: dict[str, int], low: int, high: int, field: str) -> int:
    key = token.strip().lower()
    if key in names:
        return names[key]
    try:
        value = int(key)
    except ValueError:
        raise ValidationFailed(f"cron {field}: {token!r} is not a number or name") from None
    if field == "day-of-week" and value == 7:  # cron allows 7 for Sunday
        value = 0
    if not low <= value <= high:
        raise ValidationFailed(f"cron {field}: {value} is outside {low}-{high}")
    return value


def _field(text: str, low: int, high: int, field: str,
           names: dict[str, int] | None = None) -> tuple[frozenset[int], bool]:
    """The allowed values of one field, and whether the field was restricted at all."""
    names = names or {}
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            try:
                step = int(step_text)
            except ValueError:
                raise ValidationFailed(f"cron {field}: bad step {step_text!r}") from None
            if step < 1:
                raise ValidationFailed(f"cron {field}: step must be positive")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start = _value(a, names, low, high, field)
            end = _value(b, names, low, high, field)
        else:
            start = _value(base, names, low, high, field)
            end = high if step_text else start
        if end < start:
            raise ValidationFailed(f"cron {field}: range {base!r} runs backwards")
        out.update(range(start, end + 1, step))
    return frozenset(out), text.strip() != "*"


class CronWindows:
    """Windows of ``duration`` starting at each time the cron expression names."""

    def __init__(self, expression: str, duration: timedelta, timezone: str = "UTC") -> None:
        fields = expression.split()
        if len(fields) != 5:
            raise ValidationFailed(
                f"schedule {expression!r} needs five fields: minute hour day month weekday")
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed(f"unknown time zone {timezone!r}") from None
        if duration <= timedelta(0):
            raise ValidationFailed("window duration must be positive")
        minutes, _ = _field(fields[0], 0, 59, "minute")
        hours, _ = _field(fields[1], 0, 23, "hour")
        self.days, self._days_restricted = _field(fields[2], 1, 31, "day-of-month")
        self.months, _ = _field(fields[3], 1, 12, "month", _MONTHS)
        self.weekdays, self._weekdays_restricted = _field(fields[4], 0, 6, "day-of-week", _DAYS)
        self._starts = sorted(h * 60 + m for h in hours for m in minutes)
        self.duration = duration

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self._days_restricted and self._weekdays_restricted:
            return dom or dow
        return dom and dow

    def window_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The window containing ``at`` (UTC start, end), or None."""
        local = at.astimezone(self.zone)
        first = (at - self.duration).astimezone(self.zone).date()
        day = local.date()
        # Walk back day by day (at most duration + 1 days) to the latest start <= at.
        while day >= first:
            if self._day_matches(day):
                midnight = datetime(day.year, day.month, day.day)
                limit = len(self._starts)
                if day == local.date():
                    minute_now = local.hour * 60 + local.minute
                    limit = bisect.bisect_right(self._starts, minute_now)
                for idx in range(limit - 1, -1, -1):
                    naive = midnight + timedelta(minutes=self._starts[idx])
                    start = naive.replace(tzinfo=self.zone).astimezone(UTC)
                    if start > at:
                        continue
                    if at < start + self.duration:
                        return start, start + self.duration
                    # The latest start before ``at`` has ended; earlier ones ended sooner.
                    return None
            day -= timedelta(days=1)
        return None

    def next_start(self, after: datetime, horizon_days: int = 400) -> datetime | None:
        """The first window start strictly after ``after`` (for display and tests)."""
        local = after.astimezone(self.zone)
        day = local.date()
        for _ in range(horizon_days):
            if self._day_matches(day):
                midnight = datetime(day.year, day.month, day.day)
                for minute in self._starts:
                    start = (midnight + timedelta(minutes=minute)).replace(
                        tzinfo=self.zone).astimezone(UTC)
                    if start > after:
                        return start
            day += timedelta(days=1)
        return None
