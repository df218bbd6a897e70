"""Cron expressions for schedule rules: ``minute hour day-of-month month day-of-week``.

The five fields take what crontab(5) takes: ``*``, numbers, ranges ``a-b``, lists
``a,b``, steps ``*/n``, ``a-b/n`` and ``a/n``, month names ``jan``-``dec`` and weekday
names ``sun``-``sat`` (0 and 7 are both Sunday). The macros ``@yearly`` (``@annually``),
``@monthly``, ``@weekly``, ``@daily`` (``@midnight``) and ``@hourly`` stand for their
usual expressions. As in cron, when both day fields are restricted a day matches if
either matches (``0 9 1 * mon``: the 1st of the month and every Monday).

Times are wall-clock times in the expression's time zone (UTC unless given). Where a
daylight-saving change skips a wall-clock time the run happens at the shifted instant;
where it repeats an hour the run happens once, in the first pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (name, lowest, highest, names mapped to numbers)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
)
_SEARCH_YEARS = 30  # a leap-day-only Monday expression can take 28 years to come round


class CronError(ValueError):
    """An expression or time zone that cannot be used; the message says what is wrong."""


def _number(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.lower())
    if value is None:
        if not text.isdigit():
            raise CronError(f"{field}: {text!r} is not a number or a known name")
        value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is outside {low}-{high}")
    return value


def _field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{field}: empty list item in {text!r}")
        span, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, _, b = span.partition("-")
            first = _number(a, field, low, high, names)
            last = _number(b, field, low, high, names)
            if first > last:
                raise CronError(f"{field}: range {span!r} runs backwards")
        else:
            first = _number(span, field, low, high, names)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


def zone(name: str) -> tzinfo:
    """The named IANA time zone; ``UTC`` and the empty string give UTC."""
    if name in ("", "UTC", "utc"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True)
class CronExpr:
    """A parsed expression; :meth:`next_after` and :meth:`between` give its run times."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool
    tz: tzinfo

    @classmethod
    def parse(cls, text: str, tz: str = "UTC") -> CronExpr:
        expanded = MACROS.get(text.strip().lower(), text)
        parts = expanded.split()
        if len(parts) != 5:
            raise CronError(
                f"{text!r} has {len(parts)} fields; a cron expression has 5: "
                "minute hour day-of-month month day-of-week"
            )
        sets = [_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        expr = cls(
            text=text, minutes=sets[0], hours=sets[1], days=sets[2], months=sets[3],
            weekdays=weekdays, any_day=parts[2] == "*", any_weekday=parts[4] == "*",
            tz=zone(tz),
        )
        if expr.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise CronError(f"{text!r} never fires (no such date)")
        return expr

    def _day_matches(self, day: datetime) -> bool:
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def next_after(self, moment: datetime) -> datetime | None:
        """The first run time strictly after ``moment`` (an aware datetime), in UTC."""
        local = moment.astimezone(self.tz).replace(tzinfo=None, second=0, microsecond=0)
        t = local + timedelta(minutes=1)
        limit = local.year + _SEARCH_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += timedelta(minutes=1)
                continue
            found = t.replace(tzinfo=self.tz).astimezone(UTC)
            if found <= moment:  # a repeated wall-clock hour already passed once
                t += timedelta(minutes=1)
                continue
            return found
        return None

    def between(self, start: datetime, end: datetime, limit: int) -> list[datetime]:
        """Run times in ``(start, end]``, oldest first; only the newest ``limit`` of them."""
        out: list[datetime] = []
        t = self.next_after(start)
        while t is not None and t <= end:
            out.append(t)
            if len(out) > limit:
                out.pop(0)
            t = self.next_after(t)
        return out
