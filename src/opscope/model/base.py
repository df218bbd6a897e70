"""Shared pieces of the domain types: strict frozen models and time handling."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


class Record(BaseModel):
    """Base of every domain type: immutable, unknown fields rejected, names validated."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


def _as_utc(value: datetime) -> datetime:
    # Naive timestamps are taken as UTC: operators' tools mostly emit UTC without a zone.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""A timestamp: ISO 8601 string or unix seconds/milliseconds; always held in UTC."""

Name = Annotated[str, Field(min_length=1, max_length=256)]
"""A short identifier such as a source, an entity or a metric name."""

Text = Annotated[str, Field(max_length=65_536)]
"""Free text such as a message, a description or an annotation."""


LabelName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
LabelValue = Annotated[str, StringConstraints(max_length=4096)]

# Checked by pydantic-core itself (no Python callback): this sits on the ingest hot path.
Labels = Annotated[dict[LabelName, LabelValue], Field(max_length=64)]
"""A bounded string-to-string map (labels, annotations, attributes)."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def epoch_us(value: datetime) -> int:
    """Microseconds since the epoch, the unit the store keeps."""
    return int(value.timestamp() * 1_000_000)


def jsonable(record: BaseModel) -> dict[str, Any]:
    return record.model_dump(mode="json")
