"""What the root-cause ranker is given: series per entity, topology, changes, evidence.

The inputs are deliberately generic so that the live incident pipeline and the offline
benchmark call the same ranker: a series is a key, its entity, its metric, and two
aligned arrays (unix seconds, values with NaN for missing). Nothing here knows a file
format or a metric naming scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from opscope.model.anomaly import Anomaly
from opscope.model.records import Change
from opscope.model.topology import Relation

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MetricSeries:
    """One metric series of one entity. Rows may come unsorted and with NaN gaps."""

    key: str
    entity: str
    metric: str
    times: FloatArray
    values: FloatArray

    def __post_init__(self) -> None:
        if self.times.shape != self.values.shape or self.times.ndim != 1:
            raise ValueError(f"series {self.key!r}: times and values must be equal-length 1-D")

    @classmethod
    def of(
        cls, key: str, entity: str, metric: str,
        times: Sequence[float] | FloatArray, values: Sequence[float] | FloatArray,
    ) -> MetricSeries:
        """Build a series from plain sequences, sorted by time (stable for ties)."""
        t = np.asarray(times, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        return cls(key=key, entity=entity, metric=metric, times=t[order], values=v[order])


@dataclass(frozen=True)
class RcaInputs:
    """Everything the ranker may look at for one incident.

    ``reference`` holds normal-operation series matched to ``series`` by ``key``; when a
    key has none, the part of the incident series before ``fault_time`` serves instead.
    ``edges`` are caller -> callee relations; when empty, the ranker learns co-movement
    and says so in its evidence; ``topology_source`` says where the edges came from
    ("configuration", "api", ...) and is quoted in the evidence. ``target`` names the
    series (key) whose SLO broke. ``changes`` and ``anomalies`` (log templates and
    detector alarms, by entity) raise the entities they concern.
    """

    series: Sequence[MetricSeries]
    fault_time: float
    reference: Sequence[MetricSeries] = ()
    edges: Sequence[Relation] = ()
    topology_source: str = "configuration"
    target: str | None = None
    changes: Sequence[Change] = ()
    anomalies: Sequence[Anomaly] = ()
    entities: Sequence[str] = field(default_factory=tuple)

    def entity_names(self) -> list[str]:
        """Every entity mentioned by a series or listed explicitly, in first-seen order."""
        seen: dict[str, None] = {}
        for name in self.entities:
            seen.setdefault(name, None)
        for s in self.series:
            seen.setdefault(s.entity, None)
        return list(seen)
