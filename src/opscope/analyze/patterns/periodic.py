"""Alerts that fire on a schedule, with a silence that would cover them.

Two tests per alert type, on its firing times:

* **interval** — gaps between firings are regular (median absolute deviation of the
  gaps under ``tolerance`` of the median gap);
* **daily / weekly** — most firings fall within ``tolerance_minutes`` of one time of
  day (in ``timezone``), on several days; weekly when they also keep to one weekday.

The suggested silence starts a little before the usual firing time and lasts as long as
the longest observed firing (plus the same margin), as a cron schedule.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from opscope.analyze.patterns.findings import PeriodicAlert, SuggestedSilence
from opscope.analyze.patterns.occurrence import KeyOf, Occurrence, occurrences, type_key
from opscope.model.events import Event
from opscope.model.incident import Matcher

_DAY = 1440.0
_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _matchers(occ: Occurrence) -> list[Matcher]:
    out = [Matcher(name="alertname", value=occ.name)]
    if occ.entity:
        out.append(Matcher(name="entity", value=occ.entity))
    return out


def _longest_minutes(occs: list[Occurrence], fallback: float) -> float:
    spans = [(o.end - o.start).total_seconds() / 60 for o in occs if o.end is not None]
    return max(spans) if spans else fallback


def _minute_of_day(t: datetime, zone: ZoneInfo) -> float:
    local = t.astimezone(zone)
    return local.hour * 60 + local.minute + local.second / 60


def _circular_centre(minutes: list[float]) -> float:
    """Mean time of day on the 24-hour circle (so 23:50 and 00:10 average to midnight)."""
    angles = [2 * math.pi * m / _DAY for m in minutes]
    x = sum(math.cos(a) for a in angles)
    y = sum(math.sin(a) for a in angles)
    return (math.atan2(y, x) * _DAY / (2 * math.pi)) % _DAY


def _distance(a: float, b: float) -> float:
    d = abs(a - b) % _DAY
    return min(d, _DAY - d)


def _interval_schedule(first: float, period: float) -> str | None:
    """A cron expression for firings every ``period`` minutes from minute-of-day
    ``first``, when cron can say it (periods dividing an hour or a day in whole hours)."""
    p = round(period)
    if p <= 0 or abs(period - p) > 0.5:
        return None
    if p < 60 and 60 % p == 0:
        minutes = sorted({int((first + k * p) % 60) for k in range(60 // p)})
        return f"{','.join(map(str, minutes))} * * * *"
    if p % 60 == 0 and 1440 % p == 0:
        hours = sorted({int(((first + k * p) % _DAY) // 60) for k in range(1440 // p)})
        listed = "*" if len(hours) == 24 else ",".join(map(str, hours))
        return f"{int(first % 60)} {listed} * * *"
    return None


def periodic_alerts(events: Iterable[Event], min_count: int = 4, tolerance: float = 0.1,
                    tolerance_minutes: float = 30.0, min_regularity: float = 0.8,
                    margin_minutes: float = 5.0, timezone: str = "UTC",
                    key: KeyOf = type_key) -> list[PeriodicAlert]:
    zone = ZoneInfo(timezone)
    per_key: dict[str, list[Occurrence]] = defaultdict(list)
    for occ in occurrences(events, key):
        per_key[occ.key].append(occ)
    out: list[PeriodicAlert] = []
    for k, occs in sorted(per_key.items()):
        if len(occs) < min_count:
            continue
        found = _daily(k, occs, zone, timezone, tolerance_minutes, min_regularity,
                       margin_minutes) or _interval(k, occs, zone, timezone, tolerance,
                                                    min_regularity, margin_minutes)
        if found is not None:
            out.append(found)
    return sorted(out, key=lambda p: (-p.count, p.type_key))


def _interval(k: str, occs: list[Occurrence], zone: ZoneInfo, tz: str, tolerance: float,
              min_regularity: float, margin: float) -> PeriodicAlert | None:
    starts = [o.start.timestamp() / 60 for o in occs]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    period = statistics.median(gaps)
    if period <= 0:
        return None
    fit = sum(1 for g in gaps if abs(g - period) <= tolerance * period) / len(gaps)
    if fit < min_regularity:
        return None
    first = _minute_of_day(occs[0].start, zone)
    schedule = _interval_schedule((first - margin) % _DAY, period)
    duration = min(period, _longest_minutes(occs, margin) + 2 * margin)
    suggestion = None if schedule is None else SuggestedSilence(
        matchers=_matchers(occs[0]), schedule=schedule, duration_minutes=round(duration, 1),
        timezone=tz, comment=f"{k} fires every {period:.0f} minutes")
    return PeriodicAlert(type_key=k, name=occs[0].name, entity=occs[0].entity,
                         count=len(occs), pattern="interval", period_minutes=round(period, 3),
                         regularity=round(fit, 4), suggestion=suggestion)


def _daily(k: str, occs: list[Occurrence], zone: ZoneInfo, tz: str, tolerance_minutes: float,
           min_regularity: float, margin: float) -> PeriodicAlert | None:
    minutes = [_minute_of_day(o.start, zone) for o in occs]
    centre = _circular_centre(minutes)
    close = [o for o, m in zip(occs, minutes, strict=True)
             if _distance(m, centre) <= tolerance_minutes]
    days = {o.start.astimezone(zone).date() for o in close}
    fit = len(close) / len(occs)
    if fit < min_regularity or len(days) < 3 or len(days) < 0.8 * len(close):
        return None  # several firings a day are an interval pattern, not a daily one
    earliest = min(_minute_of_day(o.start, zone) for o in close)
    if _distance(earliest, centre) > tolerance_minutes:
        earliest = centre - tolerance_minutes
    start = int(((earliest - margin) % _DAY) // 5 * 5)
    weekdays = {(o.start.astimezone(zone).isoweekday() % 7) for o in close}
    span_days = (max(days) - min(days)).days
    weekly = len(weekdays) == 1 and span_days >= 14
    dow = _DOW[next(iter(weekdays))] if weekly else "*"
    # Long enough that the latest-ending firing, measured from the window start, fits.
    reach = [(_minute_of_day(o.start, zone) - start) % _DAY
             + ((o.end - o.start).total_seconds() / 60 if o.end else margin) for o in close]
    duration = max(reach) + margin
    suggestion = SuggestedSilence(
        matchers=_matchers(occs[0]), schedule=f"{start % 60} {start // 60} * * {dow}",
        duration_minutes=round(min(duration, _DAY), 1), timezone=tz,
        comment=f"{k} fires {'weekly' if weekly else 'daily'} around "
                f"{int(centre // 60):02d}:{int(centre % 60):02d} {tz}")
    return PeriodicAlert(type_key=k, name=occs[0].name, entity=occs[0].entity,
                         count=len(occs), pattern="weekly" if weekly else "daily",
                         period_minutes=_DAY * (7 if weekly else 1), regularity=round(fit, 4),
                         suggestion=suggestion)
