"""Local time for detectors with calendar features: a time zone, and days off.

People keep their calendar in local time: offices open at nine, roads fill at rush hour,
weekends and public holidays are quiet, whatever UTC says. A detector that learns a
weekday and a weekend shape needs to know which local day a sample falls on, and, where
the zone keeps daylight saving, at which local hour.

:class:`LocalClock` answers both for whole arrays of event times at once. A named IANA
zone (``Europe/Berlin``) is read once into a table of the instants at which its offset
from UTC changes, so that each lookup is a binary search over that table rather than a
call into :mod:`zoneinfo` per sample. Without a zone a fixed offset applies. Holidays
(``2026-12-25``) are local dates that count as weekend days. :class:`CalendarConfig`
holds the three settings for a detector's configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import Field, field_validator

from opscope.analyze.metrics.detector import BoolArray, DetectorConfig, FloatArray

_DAY = 86_400.0
# The table covers these years; outside them the first or last offset holds.
_FIRST_YEAR, _LAST_YEAR = 1970, 2100


def check_zone(name: str) -> str:
    """``name`` if it is a known IANA time zone ("" for none); ValueError otherwise."""
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
    return name


def check_days(days: object) -> tuple[str, ...]:
    """A list of dates, given as ``YYYY-MM-DD`` strings or date objects, as sorted ISO
    strings; ValueError naming the first that is not a date."""
    if isinstance(days, str | bytes) or not isinstance(days, list | tuple | set | frozenset):
        raise ValueError("holidays must be a list of dates written YYYY-MM-DD")
    out = set()
    for day in days:
        if isinstance(day, datetime):
            raise ValueError(f"holiday {day!r} must be a date without a time")
        if isinstance(day, date):
            out.add(day.isoformat())
            continue
        if not isinstance(day, str):
            raise ValueError(f"holiday {day!r} must be a date written YYYY-MM-DD")
        try:
            out.add(date.fromisoformat(day).isoformat())
        except ValueError:
            raise ValueError(f"holiday {day!r} must be a date written YYYY-MM-DD") from None
    return tuple(sorted(out))


@lru_cache(maxsize=64)
def zone_table(name: str) -> tuple[FloatArray, FloatArray]:
    """Instants (Unix seconds) from which each offset of zone ``name`` applies, and the
    offsets in seconds. The first instant is -inf."""
    zone = ZoneInfo(name)

    def offset(t: float) -> float:
        delta = datetime.fromtimestamp(t, zone).utcoffset()
        return delta.total_seconds() if delta is not None else 0.0

    start = datetime(_FIRST_YEAR, 1, 1, tzinfo=UTC).timestamp()
    end = datetime(_LAST_YEAR, 1, 1, tzinfo=UTC).timestamp()
    # Offsets at noon UTC each day; no zone changes its offset twice within a day.
    days = np.arange(start, end, _DAY) + _DAY / 2
    offsets = np.array([offset(t) for t in days.tolist()])
    changes = np.flatnonzero(offsets[1:] != offsets[:-1])
    instants, values = [-np.inf], [float(offsets[0])]
    for k in changes.tolist():
        # The change lies between two noons: find its second by bisection.
        low, high = float(days[k]), float(days[k + 1])
        while high - low > 1.0:
            mid = np.floor((low + high) / 2.0)
            if offset(mid) == offsets[k]:
                low = mid
            else:
                high = mid
        instants.append(high)
        values.append(float(offsets[k + 1]))
    return np.array(instants), np.array(values)


def is_weekend(t: FloatArray) -> BoolArray:
    """Whether Unix times fall on a Saturday or Sunday (1970-01-01 was a Thursday)."""
    weekday = np.mod(np.floor(t / _DAY), 7.0)  # 0 Thursday, 2 Saturday, 3 Sunday
    result: BoolArray = (weekday == 2.0) | (weekday == 3.0)
    return result


# The settings of the local calendar (the ensemble gives its own to every member that has
# them and does not set them itself).
CALENDAR_FIELDS = ("utc_offset", "timezone", "holidays")


class CalendarConfig(DetectorConfig):
    """Configuration of a detector with calendar features."""

    utc_offset: float = Field(
        default=0.0,
        ge=-86_400.0,
        le=86_400.0,
        description="Seconds added to event time to get local time when no timezone is "
        "named (-18000: New York in winter).",
    )
    timezone: str = Field(
        default="",
        description="IANA time zone of the local calendar (e.g. 'America/New_York'), with its "
        "daylight saving. Empty: UTC shifted by utc_offset.",
    )
    holidays: tuple[str, ...] = Field(
        default=(),
        description="Local dates (YYYY-MM-DD) that count as weekend days, such as public "
        "holidays.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("holidays", mode="before")
    @classmethod
    def _dates(cls, value: object) -> tuple[str, ...]:
        return check_days(value)


class LocalClock:
    """Local time of Unix event times, in a named zone or at a fixed offset from UTC."""

    def __init__(self, timezone: str = "", utc_offset: float = 0.0,
                 holidays: Iterable[object] = ()) -> None:
        self.utc_offset = float(utc_offset)
        self._table = zone_table(check_zone(timezone)) if timezone else None
        self._days_off = np.array(
            [date.fromisoformat(d).toordinal() - date(1970, 1, 1).toordinal()
             for d in check_days(list(holidays))],
            dtype=np.float64,
        )

    def offset(self, t: FloatArray) -> FloatArray:
        """Seconds to add to each event time to get local time."""
        if self._table is None:
            return np.full(t.shape, self.utc_offset)
        instants, offsets = self._table
        result: FloatArray = offsets[np.searchsorted(instants, t, side="right") - 1]
        return result

    def local(self, t: FloatArray) -> FloatArray:
        """Event times shifted to local time (still seconds, as if local were UTC)."""
        result: FloatArray = t + self.offset(t)
        return result

    def quiet(self, t: FloatArray) -> BoolArray:
        """Whether each event time falls on a local Saturday, Sunday or day off."""
        local = self.local(t)
        result = is_weekend(local)
        if self._days_off.shape[0]:
            result = result | np.isin(np.floor(local / _DAY), self._days_off)
        return result
