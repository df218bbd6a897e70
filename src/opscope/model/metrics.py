"""Metric samples. A series is a metric name plus its label set."""

from __future__ import annotations

import hashlib
import math

from pydantic import Field, field_validator

from opscope.model.base import Labels, Name, Record, UtcDatetime, now_utc

# Labels that name the entity a series is about, most specific first.
ENTITY_LABELS = ("entity", "service", "job", "app", "host", "instance", "pod", "container")


def series_id(name: str, labels: dict[str, str]) -> str:
    """Stable id of a series: the same name and labels always give the same id."""
    digest = hashlib.blake2b(name.encode(), digest_size=8)
    for key in sorted(labels):
        digest.update(b"\0")
        digest.update(key.encode())
        digest.update(b"=")
        digest.update(labels[key].encode())
    return digest.hexdigest()


def entity_of(labels: dict[str, str]) -> str:
    for key in ENTITY_LABELS:
        value = labels.get(key)
        if value:
            return value
    return ""


class MetricSample(Record):
    name: Name = Field(pattern=r"^[A-Za-z_:][A-Za-z0-9_:.\-/]*$")
    labels: Labels = Field(default_factory=dict)
    value: float
    ts: UtcDatetime = Field(default_factory=now_utc,
                            description="Sample time; when absent, when received.")

    @field_validator("value")
    @classmethod
    def _finite_or_nan(cls, value: float) -> float:
        # NaN marks a missing value (Prometheus staleness); infinities are kept as given.
        return value if not math.isnan(value) else math.nan

    @property
    def series(self) -> str:
        return series_id(self.name, self.labels)

    @property
    def entity(self) -> str:
        return entity_of(self.labels)
