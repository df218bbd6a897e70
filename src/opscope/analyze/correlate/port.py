"""The persistence port of correlation, and an in-memory adapter for tests.

Four methods: the engine's whole state as versioned JSON bytes (save and load), the
incident change stream (a store upserts the incident and members, appends the timeline),
and operator feedback. A database adapter implements the same four.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from opscope.model.incident import Feedback, Incident, IncidentChange


class CorrelationStore(Protocol):
    def save_state(self, data: bytes) -> None:
        """Replace the saved engine state (JSON bytes)."""
        ...

    def load_state(self) -> bytes | None:
        """The last saved state, or None."""
        ...

    def write_changes(self, changes: Sequence[IncidentChange]) -> None:
        """Persist a batch of incident changes (in ``seq`` order)."""
        ...

    def write_feedback(self, feedback: Sequence[Feedback]) -> None:
        ...


class MemoryCorrelationStore:
    """Keeps everything in lists; ``incidents`` holds the latest snapshot of each."""

    def __init__(self) -> None:
        self.state: bytes | None = None
        self.changes: list[IncidentChange] = []
        self.feedback: list[Feedback] = []

    def save_state(self, data: bytes) -> None:
        self.state = bytes(data)

    def load_state(self) -> bytes | None:
        return self.state

    def write_changes(self, changes: Sequence[IncidentChange]) -> None:
        self.changes.extend(changes)

    def write_feedback(self, feedback: Sequence[Feedback]) -> None:
        self.feedback.extend(feedback)

    @property
    def incidents(self) -> dict[str, Incident]:
        latest: dict[str, Incident] = {}
        for change in self.changes:
            latest[change.incident.id] = change.incident
        return latest
