"""The JetStream bus against a real nats-server: the in-process bus's behaviour, durably."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from opscope.errors import Overloaded
from opscope.model import Event, MetricSample
from opscope.pipeline.nats_bus import BusUnavailable, NatsBus, consumer_name
from pipeline.bus_items import BATCHES, T0
from pipeline.nats_server import BINARY, NatsServer

pytestmark = pytest.mark.skipif(BINARY is None, reason="nats-server not installed")

MakeBus = Callable[..., NatsBus]
_streams = itertools.count()


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def sample(value: float) -> MetricSample:
    return MetricSample(name="m", labels={"service": "api"}, value=value, ts=T0)


class Collector:
    """A handler that keeps what it is given (it runs on the bus's worker thread)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.batches = 0
        self._lock = threading.Lock()

    def __call__(self, batch: Sequence[Any]) -> None:
        with self._lock:
            self.items.extend(batch)
            self.batches += 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    srv = NatsServer(tmp_path_factory.mktemp("nats")).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture()
def make_bus(server: NatsServer) -> Iterator[MakeBus]:
    """Buses on one fresh stream (its own subject prefix), all closed at the end."""
    n = next(_streams)
    buses: list[NatsBus] = []

    def make(**options: Any) -> NatsBus:
        options = {"stream": f"TEST{n}", "subject_prefix": f"t{n}", "connect_timeout": 2.0,
                   **options}
        bus = NatsBus(server.url, **options)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        bus.close(3.0)


def test_every_item_type_arrives_as_it_was_published(make_bus: MakeBus) -> None:
    bus = make_bus()
    got = {topic: Collector() for topic in BATCHES}
    for topic, collector in got.items():
        bus.subscribe(topic, "stage", collector)
    for topic, items in BATCHES.items():
        bus.publish(topic, items)
    assert bus.drain(5)
    assert {topic: c.items for topic, c in got.items()} == BATCHES


def test_every_subscriber_gets_every_batch_in_order(make_bus: MakeBus) -> None:
    bus = make_bus()
    a, b = Collector(), Collector()
    bus.subscribe("metrics", "a", a)
    bus.subscribe("metrics", "b", b)
    for i in range(20):
        bus.publish("metrics", [sample(i), sample(i + 0.5)])
    bus.publish("events", [Event(source="s", name="not for them", starts_at=T0)])
    assert bus.drain(5)
    expected = [sample(x) for i in range(20) for x in (i, i + 0.5)]
    assert a.items == expected and b.items == expected
    assert a.batches == b.batches == 20
    subs = {s.name: s for s in bus.subscriptions()}
    assert subs["a"].processed == subs["b"].processed == 40
    assert subs["a"].depth == subs["b"].depth == 0


def test_a_restarted_subscriber_gets_what_was_published_while_it_was_down(
        make_bus: MakeBus) -> None:
    first, again, newcomer = Collector(), Collector(), Collector()
    bus = make_bus()
    bus.subscribe("metrics", "detector", first)
    bus.publish("metrics", [sample(0)])
    assert bus.drain(5)
    bus.close()

    publisher = make_bus()
    publisher.publish("metrics", [sample(1)])
    publisher.publish("metrics", [sample(2), sample(3)])

    restarted = make_bus()
    restarted.subscribe("metrics", "detector", again)
    restarted.subscribe("metrics", "newcomer", newcomer)
    assert restarted.drain(5)
    assert first.items == [sample(0)]
    assert again.items == [sample(1), sample(2), sample(3)]
    # A new consumer starts at the end of the stream: it is not handed the history.
    assert newcomer.items == []
    restarted.publish("metrics", [sample(4)])
    assert restarted.drain(5)
    assert again.items[-1] == newcomer.items[-1] == sample(4)


def test_a_consumer_behind_by_max_pending_refuses_more(make_bus: MakeBus) -> None:
    release = threading.Event()
    bus = make_bus(max_pending=3)
    sub = bus.subscribe("metrics", "slow", lambda batch: release.wait(10))
    try:
        for i in range(3):
            bus.publish("metrics", [sample(i)])
        assert wait_until(lambda: not bus.has_room("metrics"))
        with pytest.raises(Overloaded, match=r"analysis queue .* for metrics is full"):
            bus.publish("metrics", [sample(9)], timeout=0.2)
        # Another process publishing the topic sees the same back-pressure.
        ingest_only = make_bus(max_pending=3)
        assert not ingest_only.has_room("metrics")
        assert ingest_only.has_room("events")
        assert sub.depth == 3
        assert sub.processed == 0
    finally:
        release.set()
    assert bus.drain(5)
    assert bus.has_room("metrics")
    assert sub.processed == 3 and sub.depth == 0
    bus.publish("metrics", [sample(10)])
    assert bus.drain(5) and sub.processed == 4


def test_a_failing_subscriber_is_counted_and_keeps_running(make_bus: MakeBus) -> None:
    bus = make_bus()
    good: list[float] = []

    def flaky(batch: Sequence[MetricSample]) -> None:
        if int(batch[0].value) % 2:
            raise RuntimeError("boom")
        good.extend(s.value for s in batch)

    sub = bus.subscribe("metrics", "flaky", flaky)
    for i in range(6):
        bus.publish("metrics", [sample(i)])
    assert bus.drain(5)
    assert good == [0, 2, 4]
    assert sub.failed == 3 and sub.processed == 3
    assert sub.depth == 0  # failed batches are acknowledged, not redelivered forever


def test_close_returns_within_its_timeout_and_the_batch_comes_back(
        make_bus: MakeBus) -> None:
    entered, release = threading.Event(), threading.Event()

    def stuck(batch: Sequence[Any]) -> None:
        entered.set()
        release.wait(10)

    bus = make_bus(ack_wait_seconds=1.0)
    sub = bus.subscribe("metrics", "stuck", stuck)
    bus.publish("metrics", [sample(1)])
    assert entered.wait(5)
    started = time.monotonic()
    bus.close(timeout=1.0)
    assert time.monotonic() - started < 2.0
    release.set()
    assert sub.thread is not None
    sub.thread.join(5)
    assert not sub.thread.is_alive()
    # Never acknowledged, so delivered again once ack_wait has passed.
    again = Collector()
    make_bus(ack_wait_seconds=1.0).subscribe("metrics", "stuck", again)
    assert wait_until(lambda: again.items == [sample(1)], timeout=5)


def test_an_idle_bus_closes_promptly_and_twice(make_bus: MakeBus) -> None:
    bus = make_bus()
    bus.subscribe("logs", "idle", Collector())
    started = time.monotonic()
    bus.close(timeout=3.0)
    bus.close()
    assert time.monotonic() - started < 1.5
    bus.publish("logs", BATCHES["logs"])  # ignored once closed, like the in-process bus
    with pytest.raises(RuntimeError, match="closed"):
        bus.subscribe("logs", "late", Collector())


def test_an_unreachable_server_means_overloaded_then_recovery(tmp_path: Path) -> None:
    srv = NatsServer(tmp_path).start()
    try:
        bus = NatsBus(srv.url, connect_timeout=1.0)
        got = Collector()
        bus.subscribe("events", "stage", got)
        srv.stop()
        started = time.monotonic()
        with pytest.raises(Overloaded, match="NATS at"):
            bus.publish("events", BATCHES["events"], timeout=0.5)
        assert time.monotonic() - started < 5
        assert not bus.has_room("events")
        srv.start()  # same port and storage: the stream and the consumer are still there
        assert wait_until(lambda: bus.has_room("events"), timeout=8)
        bus.publish("events", BATCHES["events"], timeout=2)
        assert wait_until(lambda: got.items == BATCHES["events"], timeout=5)
        bus.close(3.0)
    finally:
        srv.stop()


def test_an_unreachable_server_at_start_is_a_clear_error(tmp_path: Path) -> None:
    srv = NatsServer(tmp_path)  # a free port nobody listens on
    with pytest.raises(Exception, match=f"cannot connect to NATS at {srv.url}"):
        NatsBus(srv.url, connect_timeout=0.5)


@pytest.mark.parametrize(("topic", "name"), [
    ("metrics", "incidents-clock"), ("logs", "log analysis"), ("a.b", "c"), ("a", "b.c"),
    ("events", "x" * 200), ("events", "*>/\\ \u00e9"),
])
def test_consumer_names_are_safe_and_distinct(topic: str, name: str) -> None:
    made = consumer_name(topic, name)
    assert made.replace("-", "").replace("_", "").isalnum() and made.isascii()
    assert len(made) <= 49
    assert made != consumer_name(topic, name + "_")
    assert consumer_name(topic, name) == made


def test_a_batch_slower_than_ack_wait_is_not_handed_to_another_worker(
        make_bus: MakeBus) -> None:
    # Two workers share the consumer: without the in-progress signal the server would
    # give the batch to the idle one once ack_wait passed.
    calls = Collector()

    def slow(batch: Sequence[Any]) -> None:
        calls(batch)
        time.sleep(1.5)

    busy, idle = make_bus(ack_wait_seconds=0.6), make_bus(ack_wait_seconds=0.6)
    busy.subscribe("metrics", "slow", slow)
    idle.subscribe("metrics", "slow", slow)
    busy.publish("metrics", [sample(1)])
    assert busy.drain(10) and idle.drain(10)
    assert calls.items == [sample(1)]
    assert sum(s.processed for s in [*busy.subscriptions(), *idle.subscriptions()]) == 1


def test_subscribers_sharing_a_name_get_each_batch_once_between_them(
        make_bus: MakeBus) -> None:
    one, two = Collector(), Collector()
    first, second = make_bus(), make_bus()
    first.subscribe("logs", "parser", one)
    second.subscribe("logs", "parser", two)
    batches = [[r.model_copy(update={"message": str(i)})] for i, r in
               enumerate(BATCHES["logs"] * 10)]
    for batch in batches:
        first.publish("logs", batch)
    assert first.drain(5) and second.drain(5)
    assert sorted(one.items + two.items, key=lambda r: int(r.message)) == \
        [b[0] for b in batches]


class _ExpiredPull:
    """A pull subscription whose fetch runs out of time inside the client, which raises
    asyncio's TimeoutError on some paths rather than its own."""

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        raise TimeoutError


def test_a_fetch_that_runs_out_of_time_in_the_client_is_an_empty_fetch(
        make_bus: MakeBus) -> None:
    bus = make_bus()
    quiet = SimpleNamespace(_psub=_ExpiredPull())
    assert bus._call(bus._fetch(quiet), 2.0) == []  # type: ignore[arg-type]


def test_a_timeout_inside_an_operation_is_not_reported_as_a_silent_server(
        make_bus: MakeBus) -> None:
    bus = make_bus()

    async def expires() -> None:
        raise TimeoutError

    with pytest.raises(BusUnavailable) as caught:
        bus._call(expires(), 5.0)
    assert "did not answer" not in caught.value.message
