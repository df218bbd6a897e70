"""New-template detection: an event shape never seen before, after a warm-up period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.logs.detector import (
    TemplateText,
    anomaly_id,
    check_version,
    entity_of,
    ts_of,
)
from opscope.model import Anomaly, LogRecord

_KIND = "new_template"
_VERSION = 1


class NewTemplateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warmup_seconds: float = Field(
        default=3600.0, ge=0.0,
        description="Event time after the first record during which templates are learned "
        "without alarms.",
    )
    warmup_lines: int = Field(
        default=1000, ge=0, description="Records needed as well before alarms start.",
    )
    max_templates: int = Field(
        default=100_000, ge=1,
        description="Known template ids kept; the least recently seen is forgotten beyond.",
    )
    score: float = Field(default=1.0, description="Score given to a new-template anomaly.")


class NewTemplateDetector:
    """Flags the first line of a template id that appears after the warm-up period."""

    def __init__(self, config: NewTemplateConfig | None = None,
                 template_text: TemplateText | None = None) -> None:
        self.config = config or NewTemplateConfig()
        self.template_text = template_text
        self._first_ts: float | None = None
        self._lines = 0
        self._latest = 0.0
        # template id -> last seen (event seconds); dict order gives recency for eviction.
        self._known: dict[str, float] = {}
        self.evicted = 0

    @property
    def warmed_up(self) -> bool:
        return self._warm(self._latest)

    def _warm(self, now: float) -> bool:
        if self._first_ts is None:
            return False
        return (now - self._first_ts >= self.config.warmup_seconds
                and self._lines >= self.config.warmup_lines)

    def observe(self, records: Sequence[LogRecord]) -> list[Anomaly]:
        found: list[Anomaly] = []
        for record in records:
            tid = record.template_id
            if not tid:
                continue
            now = record.ts.timestamp()
            if self._first_ts is None or now < self._first_ts:
                self._first_ts = now if self._first_ts is None else min(self._first_ts, now)
            self._latest = max(self._latest, now)
            self._lines += 1
            if tid in self._known:
                del self._known[tid]  # re-insert below to mark it recent
                self._known[tid] = now
                continue
            if len(self._known) >= self.config.max_templates:
                del self._known[next(iter(self._known))]
                self.evicted += 1
            self._known[tid] = now
            if self._warm(now):
                found.append(self._anomaly(record, tid))
        return found

    def _anomaly(self, record: LogRecord, tid: str) -> Anomaly:
        text = self.template_text(tid) if self.template_text is not None else None
        entity = entity_of(record)
        return Anomaly(
            id=anomaly_id(_KIND, tid, entity, record.ts.isoformat()),
            kind="log_new_template", detector=_KIND, entity=entity, subject=tid,
            ts=record.ts, score=self.config.score, value=1.0, expected=0.0,
            summary=f"new log template {tid} on {entity or 'unknown entity'}: "
                    f"{(text or record.message)[:200]}",
            evidence={
                "template_id": tid, "template": text, "count": 1,
                "level": record.level.value, "examples": [record.message[:512]],
                "first_seen": record.ts.isoformat(),
                "learning_started": ts_of(self._first_ts or 0.0).isoformat(),
            },
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": _KIND, "version": _VERSION, "config": self.config.model_dump(),
            "first_ts": self._first_ts, "latest": self._latest, "lines": self._lines,
            "known": self._known, "evicted": self.evicted,
        }

    @classmethod
    def from_json(cls, state: dict[str, Any],
                  template_text: TemplateText | None = None) -> NewTemplateDetector:
        check_version(state, _KIND, _VERSION)
        detector = cls(NewTemplateConfig(**state["config"]), template_text)
        detector._first_ts = state["first_ts"]
        detector._latest = float(state["latest"])
        detector._lines = int(state["lines"])
        detector._known = {str(k): float(v) for k, v in state["known"].items()}
        detector.evicted = int(state["evicted"])
        return detector
