"""Driving the simulation: fast in event time, or paced by a clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from opscope.sim import Batch, Simulation, SimulationConfig, run_fast, run_realtime

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_run_fast_yields_one_batch_per_step_and_stops() -> None:
    sim = Simulation(seed=1, start=START, step_seconds=15)
    batches = list(run_fast(sim, timedelta(minutes=5)))
    assert len(batches) == 20
    assert batches[0].start == START and batches[-1].end == START + timedelta(minutes=5)
    assert sim.now == START + timedelta(minutes=5)
    assert all(b.end - b.start == timedelta(seconds=15)  # type: ignore[operator]
               for b in batches)
    assert list(run_fast(sim, 0)) == []


class FakeClock:
    """A clock that advances only when the runner sleeps, so no test waits for real."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_run_realtime_paces_ticks_by_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    monkeypatch.setattr("opscope.sim.runner.asyncio.sleep", fake_sleep)
    sim = Simulation(seed=1, start=START, step_seconds=10,
                     config=SimulationConfig(log_volume=0))
    seen: list[Batch] = []

    async def sink(batch: Batch) -> None:
        seen.append(batch)
        clock.now += 0.5  # a sink that takes time must not make the schedule drift

    ticks = asyncio.run(run_realtime(sim, sink, speed=4.0, duration=60, clock=clock))
    assert ticks == len(seen) == 6
    assert slept[0] == pytest.approx(2.5)
    assert all(s == pytest.approx(2.0) for s in slept[1:])
    assert clock.now == pytest.approx(6 * 2.5 + 0.5)
    assert seen[-1].end == START + timedelta(minutes=1)


def test_run_realtime_stops_when_asked() -> None:
    sim = Simulation(seed=1, start=START, step_seconds=10,
                     config=SimulationConfig(log_volume=0))
    stop = asyncio.Event()
    seen: list[Batch] = []

    async def sink(batch: Batch) -> None:
        seen.append(batch)
        if len(seen) == 3:
            stop.set()

    # speed 1000: one tick every 10 ms of real time
    ticks = asyncio.run(run_realtime(sim, sink, speed=1000.0, stop=stop))
    assert ticks == 3


def test_run_realtime_rejects_bad_speed() -> None:
    sim = Simulation(seed=1, start=START)

    async def sink(batch: Batch) -> None:
        return None

    with pytest.raises(ValueError, match="speed"):
        asyncio.run(run_realtime(sim, sink, speed=0))


def test_metric_history_ends_where_a_run_starts() -> None:
    from opscope.sim import metric_history

    end = datetime(2026, 3, 2, tzinfo=UTC)
    batches = list(metric_history(7, end, hours=2))
    assert len(batches) == 120  # a sample a minute
    assert max(s.ts for s in batches[-1]) == end
    assert min(s.ts for s in batches[0]) == end - timedelta(hours=2) + timedelta(minutes=1)
    assert {s.name for s in batches[0]} >= {"up", "cpu_usage_ratio"}
