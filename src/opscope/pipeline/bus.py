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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opscope.errors import Overloaded

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Any]], None]


class SubscriptionInfo(Protocol):
    """What telemetry and the overview page read of a subscriber, on any bus."""

    @property
    def topic(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def processed(self) -> int: ...
    @property
    def failed(self) -> int: ...


class Bus(Protocol):
    """The port: :class:`InProcessBus` here, ``opscope.pipeline.nats_bus.NatsBus`` for a
    scaled-out set-up."""

    def subscribe(self, topic: str, name: str, handler: Handler) -> SubscriptionInfo: ...
    def has_room(self, topic: str, size: int = 1) -> bool: ...
    def publish(self, topic: str, items: Sequence[Any], timeout: float = 0.0) -> None: ...
    def subscriptions(self) -> Sequence[SubscriptionInfo]: ...
    def drain(self, timeout: float = 10.0) -> bool: ...
    def close(self, timeout: float = 5.0) -> None: ...


@dataclass
class Subscription:
    topic: str
    name: str
    handler: Handler
    queue: queue.Queue[Sequence[Any] | None]
    max_items: int = 0
    """Most items waiting at once (0: no limit beyond the batch count)."""
    processed: int = 0
    failed: int = 0
    pending_items: int = 0
    thread: threading.Thread | None = field(default=None, repr=False)
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def depth(self) -> int:
        return self.queue.qsize()

    def has_room(self, size: int = 1) -> bool:
        # A batch larger than the whole limit is let into an empty queue, never refused
        # forever.
        if self.queue.full():
            return False
        return (not self.max_items or self.pending_items == 0
                or self.pending_items + size <= self.max_items)

    def _count(self, delta: int) -> None:
        with self._count_lock:
            self.pending_items += delta

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
                if batch is not None:
                    self._count(-len(batch))
                self.queue.task_done()


class InProcessBus:
    """Bounded queues and one worker thread per subscriber, all in this process."""

    def __init__(self, max_batches: int = 256, max_items: int = 0) -> None:
        self.max_batches = max_batches
        self.max_items = max_items
        self._subs: dict[str, list[Subscription]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def subscribe(self, topic: str, name: str, handler: Handler) -> Subscription:
        sub = Subscription(topic, name, handler, queue.Queue(maxsize=self.max_batches),
                           max_items=self.max_items)
        sub.thread = threading.Thread(target=sub._run, name=f"bus-{topic}-{name}", daemon=True)
        with self._lock:
            self._subs.setdefault(topic, []).append(sub)
        sub.thread.start()
        return sub

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return [s for subs in self._subs.values() for s in subs]

    def has_room(self, topic: str, size: int = 1) -> bool:
        """Whether every subscriber of ``topic`` can take ``size`` more items now."""
        return all(s.has_room(size) for s in self._subs.get(topic, ()))

    def publish(self, topic: str, items: Sequence[Any], timeout: float = 0.0) -> None:
        """Queue ``items`` for every subscriber; wait up to ``timeout`` s for room."""
        if not items or self._closed:
            return
        deadline = time.monotonic() + timeout
        for sub in self._subs.get(topic, ()):
            while not sub.has_room(len(items)) and time.monotonic() < deadline:
                time.sleep(0.01)
            if not sub.has_room(len(items)):
                raise Overloaded(f"analysis queue {sub.name!r} for {topic} is full")
            sub._count(len(items))
            try:
                if timeout > 0:
                    sub.queue.put(items, timeout=max(0.001, deadline - time.monotonic()))
                else:
                    sub.queue.put_nowait(items)
            except queue.Full:
                sub._count(-len(items))
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
