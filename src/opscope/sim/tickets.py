"""Support tickets: a backfill of resolved past problems, and live tickets when users suffer."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from opscope.model import Ticket
from opscope.sim.faults import TARGET_KINDS, FaultKind, GroundTruth
from opscope.sim.topology import HOST, Topology

SLOW_KINDS = (FaultKind.LATENCY, FaultKind.CPU_HOG, FaultKind.MEMORY_LEAK,
              FaultKind.CONNECTION_POOL_EXHAUSTION)

# Where users notice trouble in an entity, by the part of the shop it serves.
AREAS = {
    "checkout": ("checkout", "payment", "shipping", "orders-db", "orders-queue", "inventory",
                 "cart", "email"),
    "product pages": ("catalog", "search", "recommendation", "catalog-db", "redis-cache"),
    "login": ("user", "users-db"),
}

FIXES: dict[FaultKind, str] = {
    FaultKind.CPU_HOG: "A runaway batch process on {root} saturated the CPU; it was killed "
                       "and given a CPU limit.",
    FaultKind.MEMORY_LEAK: "{root} leaked memory until it was OOM-killed; the leak (an "
                           "unbounded in-process cache) was fixed in the next release.",
    FaultKind.LATENCY: "{root} responded slowly ({detail}); resolved after the underlying "
                       "issue was fixed.",
    FaultKind.ERROR_BURST: "{root} returned 5xx errors because of a bad configuration value; "
                           "the value was corrected.",
    FaultKind.CONNECTION_POOL_EXHAUSTION: "The connection pool of {root} was exhausted "
                                          "(connections leaked on an error path); pool "
                                          "limits raised and the leak fixed.",
    FaultKind.BAD_DEPLOY: "A faulty release of {root} raised errors; rolled back, fix "
                          "re-deployed the next day.",
    FaultKind.NETWORK_LOSS: "Packet loss on {root} (a flapping switch port) caused timeouts; "
                            "traffic was moved and the port replaced.",
}
LATENCY_DETAILS = ["lock contention after a schema migration", "a missing index",
                   "a slow third-party provider", "disk I/O saturation"]
REPORTERS = ["support", "customer-success", "monitoring", "on-call"]


def area_of(entity: str, topology: Topology) -> str:
    for area, members in AREAS.items():
        if entity in members:
            return area
    return "the shop" if topology.kind(entity) == HOST else "the website"


def _title(kind: FaultKind, area: str) -> str:
    symptom = "very slow" if kind in SLOW_KINDS else "failing with errors"
    return f"Customers report {area} {symptom}"


class TicketDesk:
    """Opens a ticket some minutes into a fault that users notice, resolves it after."""

    def __init__(self, topology: Topology, rng: np.random.Generator,
                 probability: float) -> None:
        self._topo = topology
        self._rng = rng
        self._probability = probability
        self._decided: set[str] = set()
        self._open: dict[str, tuple[Ticket, GroundTruth]] = {}
        self._pending_resolution: list[tuple[datetime, Ticket, GroundTruth]] = []
        self._count = 0

    def step(self, t: datetime, truths: list[GroundTruth]) -> list[Ticket]:
        out: list[Ticket] = []
        user_facing = set(self._topo.user_facing())
        for truth in truths:
            if truth.fault_id in self._decided or t >= truth.end:
                continue
            noticed = user_facing.intersection(truth.affected_entities)
            if not noticed or (t - truth.start).total_seconds() < 180:
                continue
            self._decided.add(truth.fault_id)
            if self._rng.uniform() >= self._probability:
                continue
            self._count += 1
            area = area_of(truth.root_entity, self._topo)
            ticket = Ticket(
                id=f"OPS-{5000 + self._count}", title=_title(truth.kind, area),
                description=f"Several customers contacted support: {area} is "
                            f"{'slow' if truth.kind in SLOW_KINDS else 'returning errors'}. "
                            f"First report at {t:%H:%M} UTC.",
                status="open", priority="P1" if truth.intensity >= 0.9 else "P2",
                entity=sorted(noticed)[0], created_at=t,
                labels={"channel": REPORTERS[int(self._rng.integers(len(REPORTERS)))]})
            self._open[truth.fault_id] = (ticket, truth)
            out.append(ticket)
        for fault_id, (ticket, _) in list(self._open.items()):
            found = next((g for g in truths if g.fault_id == fault_id), None)
            if found is not None and t >= found.end:
                delay = timedelta(minutes=float(self._rng.uniform(5, 20)))
                self._pending_resolution.append((found.end + delay, ticket, found))
                del self._open[fault_id]
        still = []
        for due, ticket, truth in self._pending_resolution:
            if due <= t:
                out.append(_resolved(ticket, truth, due, self._rng))
            else:
                still.append((due, ticket, truth))
        self._pending_resolution = still
        return out


def _resolved(ticket: Ticket, truth: GroundTruth, at: datetime,
              rng: np.random.Generator) -> Ticket:
    detail = LATENCY_DETAILS[int(rng.integers(len(LATENCY_DETAILS)))]
    resolution = FIXES[truth.kind].format(root=truth.root_entity, detail=detail)
    return ticket.model_copy(update={
        "status": "resolved", "resolved_at": at, "resolution": resolution,
        "labels": {**ticket.labels, "root_cause": truth.root_entity,
                   "category": truth.kind.value}})


def ticket_history(topology: Topology, seed: int, until: datetime, days: int) -> list[Ticket]:
    """Resolved tickets of the ``days`` before ``until``, about one or two a day."""
    rng = np.random.default_rng([seed, 0x71C4E7, days])
    out: list[Ticket] = []
    kinds = sorted(FaultKind)
    for day in range(days, 0, -1):
        day_start = until - timedelta(days=day)
        for _ in range(int(rng.poisson(1.3))):
            kind = kinds[int(rng.integers(len(kinds)))]
            targets = [e for e in topology.of_kind(*TARGET_KINDS[kind])
                       if kind is not FaultKind.CONNECTION_POOL_EXHAUSTION
                       or topology.specs[e].pool_size > 0]
            root = targets[int(rng.integers(len(targets)))]
            created = day_start + timedelta(seconds=float(rng.uniform(0, 86_400)))
            resolved = created + timedelta(minutes=float(rng.lognormal(np.log(90), 0.7)))
            area = area_of(root, topology)
            detail = LATENCY_DETAILS[int(rng.integers(len(LATENCY_DETAILS)))]
            out.append(Ticket(
                id="OPS-0", title=_title(kind, area),
                description=f"Alerts and customer reports: {area} "
                            f"{'slow' if kind in SLOW_KINDS else 'returning errors'}.",
                status="resolved", priority=("P1", "P2", "P3")[int(rng.integers(3))],
                entity=root, created_at=created, resolved_at=min(resolved, until),
                resolution=FIXES[kind].format(root=root, detail=detail),
                labels={"root_cause": root, "category": kind.value}))
    out.sort(key=lambda t: t.created_at)
    return [t.model_copy(update={"id": f"OPS-{1001 + i}"}) for i, t in enumerate(out)]
