"""Driving a simulation: as fast as possible in event time, or paced by the wall clock."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta

from opscope.model import MetricSample
from opscope.sim.config import SimulationConfig
from opscope.sim.simulation import Batch, Simulation

Sink = Callable[[Batch], Awaitable[None]]


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def run_fast(sim: Simulation, duration: timedelta | float) -> Iterator[Batch]:
    """Yield one batch per step until ``duration`` of event time has passed."""
    steps = math.ceil(_seconds(duration) / sim.step.total_seconds() - 1e-9)
    for _ in range(max(0, steps)):
        yield sim.tick()


def metric_history(seed: int, end: datetime, hours: float, step_seconds: float = 60.0,
                   config: SimulationConfig | None = None) -> Iterator[list[MetricSample]]:
    """The metrics of the shop of ``seed`` over the ``hours`` before ``end``, a step at a
    time: what warms metric detectors before a run starts at ``end``. Coarser steps than
    a run's are cheap to simulate; the series continue without a jump into a run of the
    same seed that starts at ``end``."""
    history = Simulation(seed, end - timedelta(hours=hours), step_seconds=step_seconds,
                         config=config)
    for batch in run_fast(history, timedelta(hours=hours)):
        yield batch.metrics


async def run_realtime(sim: Simulation, sink: Sink, speed: float = 1.0,
                       duration: timedelta | float | None = None,
                       stop: asyncio.Event | None = None,
                       clock: Callable[[], float] = time.monotonic) -> int:
    """Tick every ``step / speed`` wall-clock seconds and await ``sink`` with each batch.

    Ticks are scheduled from the start time, not from the previous tick, so a slow sink
    does not make the simulation drift; if the sink falls behind, ticks follow each other
    without sleeping until it has caught up. Stops after ``duration`` of event time, when
    ``stop`` is set, or when cancelled. Returns the number of ticks run.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    interval = sim.step.total_seconds() / speed
    limit = None if duration is None else math.ceil(_seconds(duration)
                                                    / sim.step.total_seconds() - 1e-9)
    started = clock()
    ticks = 0
    while limit is None or ticks < limit:
        if stop is not None and stop.is_set():
            break
        delay = started + (ticks + 1) * interval - clock()
        if delay > 0:
            if stop is None:
                await asyncio.sleep(delay)
            else:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                    break
                except TimeoutError:
                    pass
        await sink(sim.tick())
        ticks += 1
    return ticks
