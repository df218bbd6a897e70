"""Ingestion: commit a validated batch to durable storage, then hand it to analysis.

The order is what makes a 2xx trustworthy: capacity is checked first (so an overloaded
server refuses before it writes anything), the batch is committed, and only then is it
published to the bus for analysis.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opscope.errors import OpscopeError, Overloaded
from opscope.pipeline.bus import Bus

log = logging.getLogger(__name__)


class Written(Protocol):
    @property
    def inserted(self) -> int: ...
    @property
    def updated(self) -> int: ...


Writer = Callable[[Sequence[Any]], Written]


@dataclass(frozen=True, slots=True)
class IngestReceipt:
    kind: str
    accepted: int
    inserted: int
    updated: int


class Ingestor:
    """Writes batches of one kind through the matching writer and publishes them."""

    def __init__(self, writers: dict[str, Writer], bus: Bus, max_pending: int = 8,
                 retry_after: float = 1.0) -> None:
        self._writers = writers
        self._bus = bus
        self._slots = threading.BoundedSemaphore(max_pending)
        self.retry_after = retry_after
        self.counts: dict[str, int] = {kind: 0 for kind in writers}
        # Batches committed but not handed to analysis because a queue stayed full.
        self.unpublished: dict[str, int] = {kind: 0 for kind in writers}

    @property
    def kinds(self) -> list[str]:
        return sorted(self._writers)

    def ingest(self, kind: str, items: Sequence[Any]) -> IngestReceipt:
        """Commit ``items``; raises Overloaded (nothing written) when there is no room."""
        writer = self._writers[kind]
        if not self._bus.has_room(kind, len(items)):
            raise Overloaded(f"analysis of {kind} is behind; try again later", self.retry_after)
        if not self._slots.acquire(blocking=False):
            raise Overloaded("too many writes in progress; try again later", self.retry_after,
                             status=429)
        try:
            result = writer(items) if items else None
        finally:
            self._slots.release()
        self.counts[kind] = self.counts.get(kind, 0) + len(items)
        if items:
            # Room was checked above; a queue that filled meanwhile must not undo a commit,
            # so wait a little for room and, failing that, count and log the gap.
            try:
                self._bus.publish(kind, items, timeout=self.retry_after)
            except Overloaded:
                self.unpublished[kind] = self.unpublished.get(kind, 0) + 1
                log.warning("committed %d %s but analysis queue stayed full", len(items), kind)
            except OpscopeError as exc:  # e.g. a batch the bus cannot carry: still stored
                self.unpublished[kind] = self.unpublished.get(kind, 0) + 1
                log.error("committed %d %s but could not hand them to analysis: %s",
                          len(items), kind, exc.message)
        return IngestReceipt(
            kind, len(items),
            result.inserted if result else 0, result.updated if result else 0,
        )
