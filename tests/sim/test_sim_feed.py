"""The HTTP feeder against an in-process receiver (no network)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from pydantic import TypeAdapter

from opscope.errors import AuthError, Overloaded, ValidationFailed
from opscope.model import Change, Event, LogRecord, MetricSample, Ticket
from opscope.sim import Batch, Simulation, run_fast
from opscope.sim.feed import HttpFeeder, retry_after_seconds

START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
TOKEN = "s3cret"
MODELS: dict[str, Any] = {
    "/api/v1/events": TypeAdapter(list[Event]),
    "/api/v1/logs": TypeAdapter(list[LogRecord]),
    "/api/v1/metrics": TypeAdapter(list[MetricSample]),
    "/api/v1/changes": TypeAdapter(list[Change]),
    "/api/v1/tickets": TypeAdapter(list[Ticket]),
}


class Receiver:
    """Checks auth, parses bodies back into model types, and can answer with failures."""

    def __init__(self, failures: list[httpx.Response] | None = None) -> None:
        self.failures = list(failures or [])
        self.received: dict[str, list[Any]] = {}
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, text="missing token")
        if self.failures:
            return self.failures.pop(0)
        body = orjson.loads(request.content)
        path = request.url.path
        if path == "/api/v1/topology":
            self.received.setdefault(path, []).append(body)
        else:
            self.received.setdefault(path, []).extend(MODELS[path].validate_python(body))
        return httpx.Response(200, json={"accepted": 1})


def feed(receiver: Receiver, batches: list[Batch], token: str = TOKEN, chunk_size: int = 5000,
         topology: bool = False) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> None:
        async with HttpFeeder("http://opscope.test/", token, chunk_size=chunk_size,
                              transport=httpx.MockTransport(receiver), sleep=sleep,
                              max_retries=3) as feeder:
            if topology:
                sim = Simulation(seed=1, start=START)
                await feeder.send_topology(sim.topology())
            for batch in batches:
                await feeder(batch)

    asyncio.run(main())
    return slept


def sim_batches(minutes: float = 4) -> list[Batch]:
    sim = Simulation(seed=9, start=START)
    sim.inject("bad_deploy", "cart", at=START + timedelta(minutes=1), duration=120)
    return list(run_fast(sim, minutes * 60))


def test_every_record_arrives_intact_at_its_endpoint() -> None:
    batches = sim_batches()
    receiver = Receiver()
    assert feed(receiver, batches, topology=True) == []
    for kind in ("events", "logs", "metrics", "changes"):
        sent = [item for b in batches for item in getattr(b, kind)]
        assert sent, kind
        assert receiver.received[f"/api/v1/{kind}"] == sent
    [topology] = receiver.received["/api/v1/topology"]
    assert {"entities", "relations"} == set(topology)
    assert len(topology["entities"]) == 21
    # The deploy reaches the server before the first batch's logs.
    first_change = receiver.calls.index("/api/v1/changes")
    assert first_change < receiver.calls.index("/api/v1/logs", first_change)


def test_large_lists_go_in_chunks() -> None:
    batch = Batch(metrics=[MetricSample(name="m", value=float(i), ts=START) for i in range(12)])
    receiver = Receiver()
    feed(receiver, [batch], chunk_size=5)
    assert receiver.calls == ["/api/v1/metrics"] * 3
    assert [m.value for m in receiver.received["/api/v1/metrics"]] == list(map(float, range(12)))


def test_empty_lists_send_nothing() -> None:
    receiver = Receiver()
    feed(receiver, [Batch()])
    assert receiver.calls == []


def test_429_and_503_are_retried_after_retry_after() -> None:
    batch = Batch(events=[Event(source="s", name="A", starts_at=START)])
    receiver = Receiver([httpx.Response(429, headers={"Retry-After": "2"}, text="slow down"),
                         httpx.Response(503, headers={"Retry-After": "0.5"})])
    slept = feed(receiver, [batch])
    assert slept == [2.0, 0.5]
    assert receiver.calls == ["/api/v1/events"] * 3
    assert len(receiver.received["/api/v1/events"]) == 1


def test_retries_are_bounded() -> None:
    batch = Batch(events=[Event(source="s", name="A", starts_at=START)])
    receiver = Receiver([httpx.Response(429, headers={"Retry-After": "1"})] * 10)
    with pytest.raises(Overloaded, match="429"):
        feed(receiver, [batch])
    assert len(receiver.calls) == 4  # first try + max_retries


def test_other_client_errors_raise_with_the_response_text() -> None:
    batch = Batch(events=[Event(source="s", name="A", starts_at=START)])
    receiver = Receiver([httpx.Response(422, text="events[0].name: field required")])
    with pytest.raises(ValidationFailed, match=r"422: events\[0\]\.name: field required"):
        feed(receiver, [batch])
    assert len(receiver.calls) == 1
    with pytest.raises(AuthError, match="missing token"):
        feed(Receiver(), [batch], token="wrong")


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 3, 2, 18, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Mon, 02 Mar 2026 18:00:05 GMT", now=now) == 5.0
    assert retry_after_seconds("Mon, 02 Mar 2026 17:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
