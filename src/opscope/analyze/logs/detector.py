"""What every log anomaly detector shares: the batch interface and state versioning.

A detector takes batches of :class:`~opscope.model.LogRecord` whose ``template_id`` has
been filled in by the template miner and returns :class:`~opscope.model.Anomaly` records.
Time is always the records' own ``ts`` (event time), so replaying data gives the same
anomalies as live traffic. State is bounded and saved as versioned JSON.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from opscope.errors import ValidationFailed
from opscope.model import Anomaly, LogRecord

TemplateText = Callable[[str], str | None]
"""Looks up the text of a template id (the miner's ``template`` method fits)."""


@runtime_checkable
class LogDetector(Protocol):
    def observe(self, records: Sequence[LogRecord]) -> list[Anomaly]:
        """Consume a batch (in any order within a bounded lateness) and return anomalies."""
        ...

    def to_json(self) -> dict[str, Any]:
        ...


def anomaly_id(*parts: object) -> str:
    """A stable id: the same finding on the same data always gets the same id."""
    digest = hashlib.blake2b(digest_size=10)
    for part in parts:
        digest.update(str(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def entity_of(record: LogRecord) -> str:
    return record.entity or record.source or ""


def check_version(state: dict[str, Any], kind: str, version: int) -> None:
    if state.get("kind") != kind or state.get("version") != version:
        raise ValidationFailed(
            f"expected {kind} state version {version}, got "
            f"{state.get('kind')!r} version {state.get('version')!r}"
        )


def ts_of(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def bounded_examples(examples: list[str], message: str, limit: int, width: int = 512) -> None:
    """Keep at most ``limit`` example lines, each cut to ``width`` characters."""
    if len(examples) < limit:
        examples.append(message[:width])
