"""The bus port and its in-process adapter.

Topics are item kinds (``events``, ``logs``, ``metrics``, ``anomalies``, ...). Each
subscriber owns a bounded queue drained by its own worker thread, so a slow analysis
stage never blocks ingestion or other subscribers; when a queue is full, publishing
raises :class:`~opscope.errors.Overloaded` and the API answers 503 with Retry-After.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opscope.errors import Overloaded

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Any]], None]


class Bus(Protocol):
    def subscribe(self, topic: str, name: str, handler: Handler) -> Subscription: ...
    def has_room(self, topic: str) -> bool: ...
    def publish(self, topic: str, items: Sequence[Any], timeout: float = 0.0) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...


@dataclass
class Subscription:
    topic: str
    name: str
    handler: Handler
    queue: queue.Queue[Sequence[Any] | None]
    processed: int = 0
    failed: int = 0
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def depth(self) -> int:
        return self.queue.qsize()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            try:
                if batch is None:
                    return
                self.handler(batch)
                self.processed += len(batch)
            except Exception:  # a failing stage is counted and logged, never fatal to the bus
                self.failed += 1
                log.exception("subscriber %s on %s failed", self.name, self.topic)
            finally:
                self.queue.task_done()


class InProcessBus:
    """Bounded queues and one worker thread per subscriber, all in this process."""

    def __init__(self, max_batches: int = 256) -> None:
        self.max_batches = max_batches
        self._subs: dict[str, list[Subscription]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def subscribe(self, topic: str, name: str, handler: Handler) -> Subscription:
        sub = Subscription(topic, name, handler, queue.Queue(maxsize=self.max_batches))
        sub.thread = threading.Thread(target=sub._run, name=f"bus-{topic}-{name}", daemon=True)
        with self._lock:
            self._subs.setdefault(topic, []).append(sub)
        sub.thread.start()
        return sub

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return [s for subs in self._subs.values() for s in subs]

    def has_room(self, topic: str) -> bool:
        return all(not s.queue.full() for s in self._subs.get(topic, ()))

    def publish(self, topic: str, items: Sequence[Any], timeout: float = 0.0) -> None:
        """Queue ``items`` for every subscriber; wait up to ``timeout`` s for room."""
        if not items or self._closed:
            return
        for sub in self._subs.get(topic, ()):
            try:
                if timeout > 0:
                    sub.queue.put(items, timeout=timeout)
                else:
                    sub.queue.put_nowait(items)
            except queue.Full:
                raise Overloaded(f"analysis queue {sub.name!r} for {topic} is full") from None

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queue is empty (tests and orderly shutdown)."""
        for sub in self.subscriptions():
            done = threading.Event()

            def wait(s: Subscription = sub, ev: threading.Event = done) -> None:
                s.queue.join()
                ev.set()

            threading.Thread(target=wait, daemon=True).start()
            if not done.wait(timeout):
                return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        for sub in self.subscriptions():
            sub.queue.put(None)
        for sub in self.subscriptions():
            if sub.thread is not None:
                sub.thread.join(timeout)
