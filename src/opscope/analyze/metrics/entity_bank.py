"""One multivariate state per entity: samples of an entity's series become vectors.

Samples of different series of one entity arrive separately. The bank gives each entity
up to ``series`` columns (its first series, in order of arrival), keeps the latest value
of each column for the current instant, and scores the vector once a later instant
begins, because only then is the row complete. Missing columns are imputed by the
detector. Entities are kept up to ``capacity``, least recently seen dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.metrics.multivariate import EntityDetector, MultivariateConfig
from opscope.model import Anomaly, MetricSample


class EntityBankConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: MultivariateConfig = Field(
        default_factory=MultivariateConfig, description="The per-entity detector."
    )
    capacity: int = Field(default=10_000, ge=1, description="Most entities kept at once.")
    threshold: float = Field(
        default=6.0, gt=0, description="Distance (per series, in deviations) that is an anomaly."
    )


@dataclass
class _Row:
    slot: int
    columns: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    ts: float = -np.inf
    values: dict[int, float] = field(default_factory=dict)


class EntityDetectorBank:
    """Scores each entity's series together and reports unusual combinations."""

    def __init__(self, config: EntityBankConfig | None = None) -> None:
        self.config = config if config is not None else EntityBankConfig()
        self.detector = EntityDetector(self.config.detector, capacity=16)
        self._rows: OrderedDict[str, _Row] = OrderedDict()
        self._free: list[int] = []
        self.ignored = 0  # samples of series beyond an entity's column budget

    def _row(self, entity: str) -> _Row:
        row = self._rows.get(entity)
        if row is not None:
            self._rows.move_to_end(entity)
            return row
        if len(self._rows) >= self.config.capacity:
            _old, evicted = self._rows.popitem(last=False)
            slot = evicted.slot
            self.detector.n[slot] = 0.0
        elif self._free:
            slot = self._free.pop()
        else:
            slot = len(self._rows)
            if slot >= self.detector.capacity:
                self.detector.resize(min(self.config.capacity, 2 * self.detector.capacity))
        row = self._rows[entity] = _Row(slot=slot)
        return row

    def update(self, samples: Sequence[MetricSample]) -> list[Anomaly]:
        anomalies: list[Anomaly] = []
        for sample in samples:
            entity = sample.entity
            if not entity:
                continue
            row = self._row(entity)
            column = row.columns.get(sample.series)
            if column is None:
                if len(row.columns) >= self.config.detector.series:
                    self.ignored += 1
                    continue
                column = row.columns[sample.series] = len(row.columns)
                row.names[sample.series] = sample.name
            ts = sample.ts.timestamp()
            if ts > row.ts and row.values:
                anomaly = self._score(entity, row)
                if anomaly is not None:
                    anomalies.append(anomaly)
                row.values = {}
            row.ts = max(row.ts, ts)
            row.values[column] = sample.value
        return anomalies

    def _score(self, entity: str, row: _Row) -> Anomaly | None:
        vector = np.full((1, self.config.detector.series), np.nan)
        for column, value in row.values.items():
            vector[0, column] = value
        distance = float(self.detector.step(np.array([row.slot]), vector)[0])
        if distance < self.config.threshold:
            return None
        return Anomaly(
            kind="metric_multivariate",
            detector=self.detector.name,
            entity=entity,
            subject=entity,
            ts=datetime.fromtimestamp(row.ts, tz=UTC),
            score=distance / (distance + self.config.threshold),
            summary=f"unusual combination of {len(row.values)} series of {entity}",
            evidence={
                "series": {sid: row.names[sid] for sid in row.columns},
                "values": {sid: row.values.get(col) for sid, col in row.columns.items()},
                "distance": distance,
            },
        )
