"""Values both backends read and write alike: naive UTC timestamps, ISO strings, labels.

Timestamps are stored as ``TIMESTAMP`` (no zone) holding UTC; parameters are naive UTC
and datetimes read back are given the UTC zone here. Rows leave the store as plain dicts
whose timestamps are ISO 8601 strings ending in ``Z``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)


def to_naive_utc(value: datetime) -> datetime:
    """A query parameter for a TIMESTAMP column: naive values are taken as UTC already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def aware(value: datetime) -> datetime:
    """A stored (naive UTC) timestamp as an aware datetime, comparable with model times."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def micros(value: datetime) -> int:
    """Microseconds since the epoch, exact (no float rounding)."""
    return (to_naive_utc(value) - EPOCH) // _ONE_US


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return to_naive_utc(value).isoformat() + "Z"


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity; a NaN sample means "no value" and becomes null."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def as_labels(value: Any) -> dict[str, str]:
    """A label map as a driver returns it (a dict or pairs, or None for NULL)."""
    return dict(value) if value else {}
