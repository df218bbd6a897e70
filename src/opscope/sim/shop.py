"""The shop's behaviour step by step: load, latency, errors, resources, and fault spread.

Baseline behaviour follows the call graph (entry traffic fans out to callees; callers'
latencies include their dependencies'). Faults are traced one by one: each has its own
short history of extra latency and error ratio per entity, so that its effect reaches
callers after a per-edge delay, attenuated per hop, and so that the ground truth can say
exactly which entities one fault moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from opscope.model import RelationKind
from opscope.sim.config import SimulationConfig
from opscope.sim.effects import fault_effects
from opscope.sim.faults import Fault, FaultKind
from opscope.sim.topology import CACHE, DATABASE, HOST, QUEUE, SERVICE, Topology

K95, K99 = 2.4, 4.5
"""Tail-to-median ratios of a healthy service's latency distribution."""

LATENCY_SPREAD = (0.6, 1.4, 2.2)
"""How extra latency lands on p50, p95 and p99: stalls hit the tail hardest."""


@dataclass(frozen=True, slots=True)
class Cause:
    """Why an entity is unwell: the fault, and the dependency it arrived through."""

    fault_id: str
    kind: FaultKind
    via: str | None = None


@dataclass(slots=True)
class EntityState:
    """One entity's observable state at the end of a step."""

    id: str
    kind: str
    host: str
    up: bool = True
    rate: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    error_ratio: float = 0.0
    cpu: float = 0.0
    memory: float = 0.0
    memory_limit: float = 1.0
    pool_in_use: float = 0.0
    pool_size: float = 0.0
    queue_depth: float = 0.0
    hit_ratio: float = 0.0
    disk: float = 0.0
    loss: float = 0.0
    latency_delta: float = 0.0
    cause: Cause | None = None


def _day_shape(hour: float) -> float:
    def bump(center: float, width: float) -> float:
        d = abs(hour - center)
        d = min(d, 24.0 - d)
        return math.exp(-0.5 * (d / width) ** 2)

    return 0.15 + 0.6 * bump(20.0, 3.5) + 0.35 * bump(12.5, 2.5) + 0.1 * bump(16.0, 6.0)


_DAY_PEAK = max(_day_shape(h / 10.0) for h in range(240))


def daily_load(t: datetime) -> float:
    """Share of weekday peak traffic at ``t`` (UTC): quiet at night, a lunch bump, an
    evening peak, and a little more at weekends."""
    hour = t.hour + t.minute / 60.0 + t.second / 3600.0
    weekend = 1.1 if t.weekday() >= 5 else 1.0
    return _day_shape(hour) / _DAY_PEAK * weekend


class _Trace:
    """A fault's recent extra latency and error ratio per entity, for delayed propagation."""

    def __init__(self, depth: int, n: int) -> None:
        self.lat = np.zeros((depth, n))
        self.err = np.zeros((depth, n))


class ShopModel:
    def __init__(self, topology: Topology, rng: np.random.Generator, step_seconds: float,
                 config: SimulationConfig) -> None:
        self.topo = topology
        self.rng = rng
        self.step_s = step_seconds
        self.att = config.attenuation
        n = len(topology.ids)
        self.n = n
        specs = [topology.specs[i] for i in topology.ids]
        self.kinds = [s.kind for s in specs]
        self.self_p50 = np.array([s.self_p50_s for s in specs])
        self.cpu_idle = np.array([s.cpu_idle for s in specs])
        self.cpu_per_rps = np.array([s.cpu_per_rps for s in specs])
        self.mem_base = np.array([s.memory_base_bytes for s in specs])
        self.mem_limit = np.array([s.memory_limit_bytes for s in specs])
        self.base_err = np.array([0.0 if s.kind == HOST else s.base_error_ratio for s in specs])
        self.base_rate = self._peak_rates() * config.traffic_scale
        self.base_p50 = self._composed_p50()
        is_store = np.array([k in (DATABASE, CACHE, QUEUE) for k in self.kinds])
        # Alert-worthy latency: well above normal, never below what users would notice.
        # Peak-hour p95 plus noise stays below 1.5x the baseline p95, hence the margin.
        self.slo_p95 = np.maximum(np.where(is_store, 0.05, 0.3),
                                  1.8 * K95 * self.base_p50 + np.where(is_store, 0.01, 0.1))
        self._edges = self._propagation_edges(config)
        self.depth = int(self._edges[2].max(initial=1)) + 1
        self._traces: dict[str, _Trace] = {}
        self._k = 0
        self._load_noise = 0.0
        self._gc_phase = rng.uniform(0, 1, n)
        hosts = topology.of_kind(HOST)
        self._disk_base = {h: topology.specs[h].disk_usage for h in hosts}
        self._disk_noise = dict.fromkeys(hosts, 0.0)
        self._queue_depth = dict.fromkeys(topology.of_kind(QUEUE), 0.0)

    # -- static baseline -----------------------------------------------------------------

    def _peak_rates(self) -> np.ndarray:
        topo = self.topo
        rate = np.zeros(self.n)
        consumers = {s.id: s.consumes for s in topo.specs.values() if s.consumes}
        for entity in reversed(topo.order):  # callers before callees
            i = topo.index(entity)
            if entity in consumers:
                continue
            rate[i] += topo.specs[entity].entry_rps
            for edge in topo.dependencies(entity):
                rate[topo.index(edge.target)] += rate[i] * edge.per_request
        for consumer, queue in consumers.items():
            rate[topo.index(consumer)] = rate[topo.index(queue)]
        return rate

    def _composed_p50(self) -> np.ndarray:
        topo = self.topo
        p50 = self.self_p50.copy()
        for entity in topo.order:  # callees before callers
            i = topo.index(entity)
            consumes = topo.specs[entity].consumes
            for edge in topo.dependencies(entity):
                if edge.target == consumes:
                    continue
                weight = edge.per_request if edge.kind is RelationKind.DEPENDS_ON \
                    else min(edge.per_request, 1.0)
                p50[i] += weight * p50[topo.index(edge.target)]
        return p50

    def _propagation_edges(self, cfg: SimulationConfig) -> tuple[np.ndarray, ...]:
        src, dst, delay = [], [], []
        for edge in self.topo.edges:
            if edge.kind is RelationKind.RUNS_ON:
                continue
            jitter = cfg.hop_jitter_seconds * float(self.rng.uniform(-1, 1))
            steps = max(1, round((cfg.hop_delay_seconds + jitter) / self.step_s))
            src.append(self.topo.index(edge.source))
            dst.append(self.topo.index(edge.target))
            delay.append(steps)
        return (np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64),
                np.array(delay, dtype=np.int64))

    def drain_seconds(self) -> float:
        """How long a fault's effect can still travel after it ends."""
        return float(self.depth * self.step_s * len(self.topo.ids))

    # -- one step ------------------------------------------------------------------------

    def step(self, t: datetime, faults: list[Fault]) -> tuple[list[EntityState],
                                                               dict[str, list[str]]]:
        """States at ``t`` and, per fault, the entities it visibly moved in this step."""
        rng, n = self.rng, self.n
        phi = math.exp(-self.step_s / 600.0)
        self._load_noise = phi * self._load_noise + math.sqrt(1 - phi * phi) * 0.05 * float(
            rng.standard_normal())
        load = daily_load(t) * math.exp(self._load_noise)
        rate = self.base_rate * load * np.exp(rng.normal(0, 0.03, n))
        cpu = self.cpu_idle + self.cpu_per_rps * rate + rng.normal(0, 0.008, n)
        seconds = t.timestamp()
        saw = ((seconds / 900.0) + self._gc_phase) % 1.0  # heap grows, GC trims it
        mem = self.mem_base * (1.0 + 0.05 * saw) * np.exp(rng.normal(0, 0.004, n))

        agg = _Aggregate(n)
        affected: dict[str, list[str]] = {}
        active_ids = set()
        for fault in sorted(faults, key=lambda f: f.id):
            active_ids.add(fault.id)
            affected[fault.id] = self._trace_fault(fault, t, cpu, mem, agg)
        for fault_id in [f for f in self._traces if f not in active_ids]:
            del self._traces[fault_id]
        self._k += 1
        return self._states(t, load, rate, cpu, mem, agg), affected

    def _trace_fault(self, fault: Fault, t: datetime, cpu: np.ndarray, mem: np.ndarray,
                     agg: _Aggregate) -> list[str]:
        topo, n = self.topo, self.n
        own_lat, own_err = np.zeros(n), np.zeros(n)
        cpu_x, mem_x, fill, loss = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        down = np.zeros(n, dtype=bool)
        for entity, eff in fault_effects(fault, t, topo).items():
            i = topo.index(entity)
            own_lat[i] += eff.latency_s
            own_err[i] = 1 - (1 - own_err[i]) * (1 - eff.error_ratio)
            cpu_x[i] += eff.cpu
            mem_x[i] += eff.memory_bytes
            fill[i] = max(fill[i], eff.pool_fill)
            loss[i] = max(loss[i], eff.loss)
            down[i] |= eff.down
        # Saturated CPU queues requests; memory pressure means GC pauses; an empty pool
        # means waiting for a connection until the acquire timeout, then failing.
        saturation = np.clip((np.minimum(cpu + cpu_x, 1.0) - 0.8) / 0.2, 0, 1)
        own_lat += saturation**2 * (0.4 + 8.0 * self.base_p50) * (cpu_x > 0)
        pressure = np.clip(((mem + mem_x) / self.mem_limit - 0.85) / 0.15, 0, 1) * (mem_x > 0)
        own_lat += pressure * (0.3 + 2.0 * self.base_p50)
        own_err = 1 - (1 - own_err) * (1 - 0.04 * pressure)
        exhausted = np.clip((fill - 0.9) / 0.1, 0, 1)
        own_lat += exhausted * 1.5
        own_err = 1 - (1 - own_err) * (1 - 0.3 * exhausted)
        own_err[down] = 1.0

        trace = self._traces.get(fault.id)
        if trace is None:
            trace = self._traces[fault.id] = _Trace(self.depth, n)
        src, dst, delay = self._edges
        rows = (self._k - delay) % self.depth
        lat_c = self.att * trace.lat[rows, dst]
        err_c = self.att * trace.err[rows, dst]
        in_lat = np.zeros(n)
        np.add.at(in_lat, src, lat_c)
        log_ok = np.zeros(n)
        np.add.at(log_ok, src, np.log1p(-np.minimum(err_c, 0.999999)))
        total_lat = own_lat + in_lat
        total_err = 1 - (1 - own_err) * np.exp(log_ok)
        trace.lat[self._k % self.depth] = total_lat
        trace.err[self._k % self.depth] = total_err

        # Visible: a change an operator would notice on a dashboard; absolute beyond 0.1 s
        # so that every entity on the path from the root to an affected caller counts.
        visible = ((total_lat > np.minimum(0.1, 0.25 * self.slo_p95)) | (total_err > 0.02)
                   | (cpu_x > 0.15) | (pressure > 0) | (fill > 0.9) | down | (loss > 0.01))
        own = (own_lat > 0) | (own_err > 0) | (cpu_x > 0) | (mem_x > 0) | (fill > 0) \
            | down | (loss > 0)
        # Which dependency brought the trouble: the edge with the largest contribution.
        strength = lat_c / self.slo_p95[src] + 10.0 * err_c
        via: dict[int, tuple[float, int]] = {}
        for e in np.nonzero(strength > 0)[0].tolist():
            s = int(src[e])
            if s not in via or strength[e] > via[s][0]:
                via[s] = (float(strength[e]), int(dst[e]))
        score = total_lat / self.slo_p95 + 10.0 * total_err + own.astype(float)
        for i in np.nonzero(visible | own)[0].tolist():
            if score[i] > agg.best[i]:
                agg.best[i] = score[i]
                through = None if own[i] or i not in via else topo.ids[via[i][1]]
                agg.cause[i] = Cause(fault.id, fault.kind, through)
        agg.lat += total_lat
        agg.ok *= 1 - total_err
        agg.cpu += cpu_x
        agg.mem += mem_x
        agg.fill = np.maximum(agg.fill, fill)
        agg.loss = np.maximum(agg.loss, loss)
        agg.down |= down
        agg.pressure = np.maximum(agg.pressure, pressure)
        return [topo.ids[i] for i in np.nonzero(visible)[0].tolist()]

    def _states(self, t: datetime, load: float, rate: np.ndarray, cpu: np.ndarray,
                mem: np.ndarray, agg: _Aggregate) -> list[EntityState]:
        rng, topo, n = self.rng, self.topo, self.n
        busy = 0.9 + 0.2 * load  # a busier shop is a little slower
        p50 = self.base_p50 * busy * np.exp(rng.normal(0, 0.06, n))
        p95 = np.maximum(self.base_p50 * K95 * busy * np.exp(rng.normal(0, 0.08, n)), p50)
        p99 = np.maximum(self.base_p50 * K99 * busy * np.exp(rng.normal(0, 0.12, n)), p95)
        a, b, c = LATENCY_SPREAD
        p50, p95, p99 = p50 + a * agg.lat, p95 + b * agg.lat, p99 + c * agg.lat
        base_err = np.clip(self.base_err * np.exp(rng.normal(0, 0.35, n)), 0, 1)
        err = np.clip(1 - (1 - base_err) * agg.ok, 0, 1)
        cpu = np.clip(cpu + agg.cpu, 0.01, 1.0)
        mem = np.minimum(mem + agg.mem, self.mem_limit)
        noise = rng.normal(0, 1, n)

        states = []
        for i, entity in enumerate(topo.ids):
            spec = topo.specs[entity]
            st = EntityState(
                id=entity, kind=spec.kind, host=spec.host, up=not agg.down[i],
                rate=float(rate[i]) if not agg.down[i] else 0.0, p50=float(p50[i]),
                p95=float(p95[i]), p99=float(p99[i]), error_ratio=float(err[i]),
                cpu=float(cpu[i]), memory=float(mem[i]), memory_limit=float(self.mem_limit[i]),
                loss=float(agg.loss[i]), latency_delta=float(agg.lat[i]), cause=agg.cause[i])
            if spec.kind == SERVICE and spec.pool_size:
                # Little's law: connections held = request rate x time each request holds one.
                held = rate[i] * 0.6 * p50[i] + 1.0 + 0.8 * noise[i]
                in_use = max(held, agg.fill[i] * spec.pool_size)
                st.pool_size = float(spec.pool_size)
                st.pool_in_use = float(np.clip(round(in_use), 0, spec.pool_size))
            if spec.kind == CACHE:
                st.hit_ratio = float(np.clip(0.94 + 0.004 * noise[i] - 0.35 * agg.pressure[i],
                                             0, 1))
            states.append(st)
        by_id = {st.id: st for st in states}
        for st in states:
            spec = topo.specs[st.id]
            if st.kind == DATABASE:
                clients = [by_id[c] for c in topo.callers(st.id)]
                idle = 3.0 * len(clients)
                total = sum(c.pool_in_use for c in clients) + idle
                total = max(total, agg.fill[topo.index(st.id)] * spec.pool_size)
                st.pool_size = float(spec.pool_size)
                st.pool_in_use = float(min(round(total), spec.pool_size))
            elif st.kind == QUEUE:
                self._queue_step(st, by_id)
            elif st.kind == HOST:
                self._host_step(st, [by_id[e] for e in topo.hosted_on(st.id)], agg)
        return states

    def _queue_step(self, queue: EntityState, by_id: dict[str, EntityState]) -> None:
        consumers = [by_id[s.id] for s in self.topo.specs.values() if s.consumes == queue.id]
        incoming = queue.rate
        capacity = 0.0
        for c in consumers:
            i = self.topo.index(c.id)
            health = (1 - c.error_ratio) * self.base_p50[i] / (self.base_p50[i]
                                                               + c.latency_delta)
            capacity += 4.0 * self.base_rate[self.topo.index(queue.id)] * health * c.up
        depth = self._queue_depth[queue.id]
        out = min(capacity, depth / self.step_s + incoming)
        depth = max(0.0, depth + (incoming - out) * self.step_s)
        self._queue_depth[queue.id] = depth
        queue.queue_depth = float(depth + self.rng.poisson(max(incoming, 0.0) * 0.5))
        for c in consumers:
            c.rate = out if c.up else 0.0

    def _host_step(self, host: EntityState, hosted: list[EntityState],
                   agg: _Aggregate) -> None:
        i = self.topo.index(host.id)
        host.cpu = float(np.clip(self.cpu_idle[i] + 0.2 * sum(e.cpu for e in hosted)
                                 + agg.cpu[i], 0.01, 1.0))
        host.memory = float(min(self.mem_base[i] + sum(e.memory for e in hosted),
                                self.mem_limit[i]))
        host.rate = host.p50 = host.p95 = host.p99 = host.error_ratio = 0.0
        # Disk usage wanders slowly around its level (logs grow, rotation trims them).
        phi = math.exp(-self.step_s / 300.0)
        noise = self._disk_noise[host.id]
        noise = phi * noise + math.sqrt(1 - phi * phi) * 0.01 * float(self.rng.standard_normal())
        self._disk_noise[host.id] = noise
        host.disk = float(np.clip(self._disk_base[host.id] + noise, 0, 1))


class _Aggregate:
    """The sum of all active faults' effects in one step."""

    def __init__(self, n: int) -> None:
        self.lat = np.zeros(n)
        self.ok = np.ones(n)
        self.cpu = np.zeros(n)
        self.mem = np.zeros(n)
        self.fill = np.zeros(n)
        self.loss = np.zeros(n)
        self.pressure = np.zeros(n)
        self.down = np.zeros(n, dtype=bool)
        self.best = np.zeros(n)
        self.cause: list[Cause | None] = [None] * n
