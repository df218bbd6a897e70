"""The in-process bus: delivery, isolation of failing subscribers, back-pressure."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from opscope.errors import Overloaded
from opscope.pipeline import InProcessBus, Stage, run_stages


def test_every_subscriber_gets_every_batch_in_order() -> None:
    bus = InProcessBus()
    seen: dict[str, list[Any]] = {"a": [], "b": []}
    bus.subscribe("logs", "a", lambda batch: seen["a"].extend(batch))
    bus.subscribe("logs", "b", lambda batch: seen["b"].extend(batch))
    for i in range(50):
        bus.publish("logs", [i, i + 0.5])
    bus.publish("events", ["not for them"])
    assert bus.drain(5)
    expected = [x for i in range(50) for x in (i, i + 0.5)]
    assert seen == {"a": expected, "b": expected}
    bus.close()
    bus.close()  # idempotent


def test_a_failing_subscriber_is_counted_and_keeps_running() -> None:
    bus = InProcessBus()
    good: list[int] = []

    def flaky(batch: Sequence[int]) -> None:
        if batch[0] % 2:
            raise RuntimeError("boom")
        good.extend(batch)

    sub = bus.subscribe("metrics", "flaky", flaky)
    for i in range(6):
        bus.publish("metrics", [i])
    assert bus.drain(5)
    assert good == [0, 2, 4]
    assert sub.failed == 3 and sub.processed == 3
    bus.close()


def test_full_queue_refuses_instead_of_growing() -> None:
    bus = InProcessBus(max_batches=2)
    gate, busy = threading.Event(), threading.Event()

    def slow(batch: Sequence[int]) -> None:
        busy.set()
        gate.wait(5)

    bus.subscribe("logs", "slow", slow)
    bus.publish("logs", [1])
    assert busy.wait(5)  # the worker holds the first batch and blocks
    accepted = 1
    with pytest.raises(Overloaded):
        for _ in range(10):
            bus.publish("logs", [2])
            accepted += 1
    assert accepted == 3  # one in the worker, two queued
    assert not bus.has_room("logs")
    assert bus.has_room("events")
    gate.set()
    assert bus.drain(5)
    assert bus.has_room("logs")
    bus.close()


class Double:
    name = "double"

    def process(self, batch: Sequence[int]) -> Sequence[int]:
        return [x * 2 for x in batch]


class DropOdd:
    name = "drop-odd"

    def process(self, batch: Sequence[int]) -> Sequence[int]:
        return [x for x in batch if x % 2 == 0]


def test_stages_chain_and_stop_on_empty() -> None:
    stages: list[Stage] = [DropOdd(), Double()]
    assert isinstance(stages[0], Stage)
    assert list(run_stages(stages, [1, 2, 3, 4])) == [4, 8]
    assert list(run_stages(stages, [1, 3])) == []


def test_items_waiting_are_bounded_too() -> None:
    bus = InProcessBus(max_batches=100, max_items=10)
    gate, busy = threading.Event(), threading.Event()

    def slow(batch: Sequence[int]) -> None:
        busy.set()
        gate.wait(5)

    sub = bus.subscribe("logs", "slow", slow)
    bus.publish("logs", list(range(6)))
    assert busy.wait(5)
    bus.publish("logs", list(range(4)))  # 6 held by the worker + 4 queued = 10
    assert not bus.has_room("logs", 1)
    with pytest.raises(Overloaded):
        bus.publish("logs", [1])
    assert bus.has_room("events", 1_000)
    gate.set()
    assert bus.drain(5)
    assert sub.pending_items == 0
    assert bus.has_room("logs", 10)
    # a batch larger than the whole limit still goes into an empty queue
    bus.publish("logs", list(range(50)))
    assert bus.drain(5)
    bus.close()
