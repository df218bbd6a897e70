"""What pattern discovery reports: plain frozen records, ready for JSON and the API."""

from __future__ import annotations

from pydantic import Field

from opscope.model.base import Record, UtcDatetime
from opscope.model.incident import Matcher


class AssociationRule(Record):
    """``antecedent`` and ``consequent`` fire together (``co-occurs``) or one after the
    other (``follows``: the consequent within ``window_seconds`` after the antecedent)."""

    kind: str = Field(description="co-occurs or follows.")
    antecedent: str
    consequent: str
    count: int = Field(ge=0, description="Transactions (or antecedent firings) with both.")
    support: float = Field(ge=0, le=1, description="Share of all transactions with both.")
    confidence: float = Field(ge=0, le=1, description="P(consequent | antecedent).")
    lift: float = Field(ge=0, description="Confidence over the consequent's base rate.")
    window_seconds: float
    mean_lag_seconds: float | None = Field(
        default=None, description="For 'follows': mean delay from antecedent to consequent.")


class RecurringIncident(Record):
    """Incidents with (nearly) the same signal types, again and again."""

    signature: list[str] = Field(description="Signal types ('name@entity') they share.")
    incident_ids: list[str]
    count: int = Field(ge=2)
    first: UtcDatetime
    last: UtcDatetime
    mean_interval_hours: float | None = None


class SuggestedSilence(Record):
    """A recurring window that would mute a periodic alert (shaped like a maintenance
    window: matchers, cron schedule, duration, time zone)."""

    matchers: list[Matcher]
    schedule: str = Field(description="Cron: minute hour day-of-month month day-of-week.")
    duration_minutes: float = Field(gt=0)
    timezone: str = "UTC"
    comment: str = ""


class PeriodicAlert(Record):
    """An alert type that fires on a schedule: noise a silence or a fix should handle."""

    type_key: str
    name: str
    entity: str
    count: int
    pattern: str = Field(description="interval, daily or weekly.")
    period_minutes: float = Field(gt=0)
    regularity: float = Field(ge=0, le=1, description="Share of firings that fit the pattern.")
    suggestion: SuggestedSilence | None = None


class IdleAlert(Record):
    """An alert type that never took part in an acknowledged or ticketed incident."""

    type_key: str
    count: int = Field(description="Occurrences in the history.")
    in_incidents: int = Field(description="Occurrences that joined any incident.")
    first: UtcDatetime
    last: UtcDatetime
