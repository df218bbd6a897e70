"""Collecting records into batches for a downstream ``ingest`` coroutine.

Receivers that get one record at a time (a syslog datagram, a line of a file) hand
records on in batches: a batch goes out when it holds ``max_size`` records or
``max_delay`` seconds after its first record arrived, whichever comes first. Batches go
out one at a time and in order, so a slow ``ingest`` slows the producers down
(``add`` waits) instead of piling up memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from opscope.errors import OpscopeError

T = TypeVar("T")
Ingest = Callable[[list[T]], Awaitable[None]]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
MAX_RETRY_WAIT = 5.0


class RecordBatcher(Generic[T]):
    """Batches records for ``ingest``; retries an ingest that fails with a retryable error.

    A batch whose ingest still fails is counted in ``failed_batches`` and
    ``failed_records`` and logged; the error is kept in ``last_error``.
    """

    def __init__(self, ingest: Ingest[T], max_size: int, max_delay: float) -> None:
        self._ingest = ingest
        self.max_size = max_size
        self.max_delay = max_delay
        self._pending: list[T] = []
        self._timer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.batches = 0
        self.records = 0
        self.failed_batches = 0
        self.failed_records = 0
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def add(self, record: T) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.max_size:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_delay)
        self._timer = None  # this task is ending; flush must not cancel it
        await self.flush()

    async def flush(self) -> None:
        """Send what is pending now (and wait for batches sent before it)."""
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        batch, self._pending = self._pending, []
        if not batch:
            return
        async with self._lock:
            await self._send(batch)

    async def _send(self, batch: list[T]) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await self._ingest(batch)
            except Exception as exc:  # any failure of the sink is counted, not raised
                retry = isinstance(exc, OpscopeError) and exc.retryable and attempt < MAX_ATTEMPTS
                self.last_error = f"{type(exc).__name__}: {exc}"
                if retry:
                    wait = min(float(getattr(exc, "retry_after", 0.1) or 0.1), MAX_RETRY_WAIT)
                    await asyncio.sleep(wait)
                    continue
                self.failed_batches += 1
                self.failed_records += len(batch)
                log.warning("ingest of %d records failed: %s", len(batch), self.last_error,
                            exc_info=exc)
                return
            self.batches += 1
            self.records += len(batch)
            return

    async def close(self) -> None:
        """Flush what is pending; idempotent."""
        await self.flush()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
