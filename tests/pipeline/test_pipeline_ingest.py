"""The Ingestor commits first, publishes second, and refuses before writing when full."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from opscope.errors import Overloaded, PayloadTooLarge
from opscope.pipeline import Ingestor, InProcessBus
from opscope.store.ports import WriteResult


class Recorder:
    def __init__(self, log: list[str]) -> None:
        self.rows: list[Any] = []
        self.log = log

    def __call__(self, items: Sequence[Any]) -> WriteResult:
        self.log.append("commit")
        self.rows.extend(items)
        return WriteResult(inserted=len(items))


def test_commit_happens_before_publish() -> None:
    order: list[str] = []
    writer = Recorder(order)
    bus = InProcessBus()
    bus.subscribe("logs", "watch", lambda batch: order.append("analyse"))
    ingestor = Ingestor({"logs": writer}, bus)
    receipt = ingestor.ingest("logs", ["a", "b"])
    assert bus.drain(5)
    assert receipt.accepted == 2 and receipt.inserted == 2
    assert order == ["commit", "analyse"]
    assert ingestor.counts["logs"] == 2
    bus.close()


def test_refuses_before_writing_when_analysis_is_behind() -> None:
    order: list[str] = []
    writer = Recorder(order)
    bus = InProcessBus(max_batches=1)
    gate, busy = threading.Event(), threading.Event()

    def slow(batch: Sequence[Any]) -> None:
        busy.set()
        gate.wait(5)

    bus.subscribe("logs", "slow", slow)
    ingestor = Ingestor({"logs": writer}, bus, retry_after=2.0)
    ingestor.ingest("logs", ["first"])
    assert busy.wait(5)  # the worker holds the first batch
    ingestor.ingest("logs", ["second"])  # fills the one-batch queue
    with pytest.raises(Overloaded) as refused:
        ingestor.ingest("logs", ["third"])
    assert refused.value.status == 503 and refused.value.retry_after == 2.0
    assert writer.rows == ["first", "second"]  # nothing of the refused batch was written
    gate.set()
    bus.close()


def test_too_many_writes_in_flight_answers_429() -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_writer(items: Sequence[Any]) -> WriteResult:
        entered.set()
        release.wait(5)
        return WriteResult(inserted=len(items))

    bus = InProcessBus()
    ingestor = Ingestor({"events": slow_writer}, bus, max_pending=1)
    worker = threading.Thread(target=ingestor.ingest, args=("events", ["x"]))
    worker.start()
    assert entered.wait(5)
    with pytest.raises(Overloaded) as refused:
        ingestor.ingest("events", ["y"])
    assert refused.value.status == 429
    release.set()
    worker.join(5)
    bus.close()


class RefusingBus(InProcessBus):
    """A bus that has room but cannot carry the batch (too large for its messages)."""

    def publish(self, topic: str, items: Sequence[Any], timeout: float = 0.0) -> None:
        raise PayloadTooLarge("the batch is larger than the bus carries")


def test_a_batch_the_bus_cannot_carry_is_still_acknowledged_as_stored() -> None:
    writer = Recorder([])
    ingestor = Ingestor({"logs": writer}, RefusingBus())
    receipt = ingestor.ingest("logs", ["a"])
    assert receipt.inserted == 1 and writer.rows == ["a"]
    assert ingestor.unpublished["logs"] == 1
