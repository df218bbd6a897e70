"""What each kind of fault does to the entity it hits, as a function of event time.

Effects here are the *direct* ones. The shop model turns saturated CPU, memory pressure
and exhausted pools into latency and errors, and carries those to callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opscope.sim.faults import Fault, FaultKind
from opscope.sim.topology import HOST, Topology

RESTART_SECONDS = 30.0
"""How long a service is gone after an out-of-memory kill."""

DEPLOY_ONSET_SECONDS = 40.0
"""A bad release needs some traffic before its bug shows: errors start after this delay."""


@dataclass(slots=True)
class Effect:
    latency_s: float = 0.0
    error_ratio: float = 0.0
    cpu: float = 0.0
    memory_bytes: float = 0.0
    pool_fill: float = 0.0
    loss: float = 0.0
    down: bool = False


def ramp(elapsed: float, delay: float, rise: float) -> float:
    """0 before ``delay``, then linear up to 1 over ``rise`` seconds."""
    if elapsed < delay:
        return 0.0
    if rise <= 0:
        return 1.0
    return min(1.0, (elapsed - delay) / rise)


def oom_cycle(fault: Fault) -> float:
    """Seconds a leak takes to fill the memory limit: half the fault's duration at full
    intensity, a little longer for weaker leaks."""
    return fault.duration * (0.5 + 0.3 * (1.0 - fault.intensity))


def fault_effects(fault: Fault, t: datetime, topology: Topology) -> dict[str, Effect]:
    """Direct effects of ``fault`` at ``t`` on each entity it touches (empty when inactive)."""
    elapsed = fault.elapsed(t)
    if elapsed < 0 or t >= fault.end:
        return {}
    x = fault.intensity
    spec = topology.specs[fault.entity]
    on_host = spec.kind == HOST
    kind = fault.kind

    if kind is FaultKind.CPU_HOG:
        # A hog (runaway loop, stuck batch job) takes whatever CPU is left: near 100%.
        hog = (0.85 + 0.15 * x) * ramp(elapsed, 0, 20)
        r = ramp(elapsed, 0, 20)
        if on_host:
            # Neighbours of the hog get less CPU time: slower, worst for CPU-bound work.
            out = {e: Effect(cpu=0.3 * x * r,
                             latency_s=(0.2 + 3.0 * topology.specs[e].self_p50_s) * x * r)
                   for e in topology.hosted_on(fault.entity)}
            out[fault.entity] = Effect(cpu=hog)
            return out
        return {fault.entity: Effect(cpu=hog)}

    if kind is FaultKind.MEMORY_LEAK:
        cycle = oom_cycle(fault)
        phase = elapsed % (cycle + RESTART_SECONDS)
        if phase >= cycle:
            return {fault.entity: Effect(down=True)}
        # Growth slows near the limit as the collector works ever harder to free memory,
        # which is when GC pauses hurt latency, until the kernel kills the process.
        grow = spec.memory_limit_bytes - spec.memory_base_bytes
        p = phase / cycle
        return {fault.entity: Effect(memory_bytes=grow * (1.0 - (1.0 - p) ** 2))}

    if kind is FaultKind.LATENCY:
        seconds = 1.2 if spec.kind == "service" else 0.6
        return {fault.entity: Effect(latency_s=seconds * x * ramp(elapsed, 0, 20))}

    if kind is FaultKind.ERROR_BURST:
        r = ramp(elapsed, 0, 10)
        return {fault.entity: Effect(error_ratio=0.5 * x * r, latency_s=0.03 * r)}

    if kind is FaultKind.CONNECTION_POOL_EXHAUSTION:
        # A connection leak: connections are taken and never returned, so the pool fills.
        # Weaker leaks take longer to fill it.
        fill = min(1.0, 0.4 + 0.6 * elapsed / (60.0 + 90.0 * (1.0 - x)))
        return {fault.entity: Effect(pool_fill=fill)}

    if kind is FaultKind.BAD_DEPLOY:
        r = ramp(elapsed, DEPLOY_ONSET_SECONDS, 20)
        return {fault.entity: Effect(error_ratio=0.35 * x * r, latency_s=0.15 * x * r,
                                     cpu=0.08 * x * r)}

    if kind is FaultKind.NETWORK_LOSS:
        loss = (0.05 + 0.25 * x) * ramp(elapsed, 0, 5)
        # Lost packets mean retransmits (latency) and, past the retry budget, timeouts.
        effect = Effect(loss=loss, latency_s=4.0 * loss, error_ratio=0.8 * loss)
        if on_host:
            out = {e: Effect(loss=loss, latency_s=4.0 * loss, error_ratio=0.8 * loss)
                   for e in topology.hosted_on(fault.entity)}
            out[fault.entity] = Effect(loss=loss)
            return out
        return {fault.entity: effect}

    raise AssertionError(f"unhandled fault kind {kind}")  # pragma: no cover
