"""The simulated shop's topology: what exists, how it behaves at rest, and who calls whom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opscope.model import Entity, Relation, RelationKind

MIB = 1024.0**2
GIB = 1024.0**3

SERVICE = "service"
DATABASE = "database"
CACHE = "cache"
QUEUE = "queue"
HOST = "host"
DATASTORES = (DATABASE, CACHE, QUEUE)


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """How one entity behaves when nothing is wrong.

    Latencies are the entity's own work; callers' latencies are composed from the call
    graph, so a slow dependency shows up in its callers without extra bookkeeping.
    """

    id: str
    kind: str
    host: str = ""
    self_p50_s: float = 0.01
    entry_rps: float = 0.0
    base_error_ratio: float = 0.002
    cpu_idle: float = 0.05
    cpu_per_rps: float = 0.002
    memory_base_bytes: float = 256 * MIB
    memory_limit_bytes: float = 1 * GIB
    pool_size: int = 0
    team: str = ""
    language: str = ""
    user_facing: bool = False
    ip: str = ""
    consumes: str = ""
    """A queue this service drains: its rate follows the queue's, not its callers'."""
    disk_usage: float = 0.5
    """Hosts only: the level the root filesystem's usage wanders around."""


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` calls (or queries, or runs on) ``target``, ``per_request`` times per request."""

    source: str
    target: str
    kind: RelationKind = RelationKind.CALLS
    per_request: float = 1.0


class Topology:
    """Entities and relations of the shop, with the lookups the simulator needs."""

    def __init__(self, specs: Sequence[EntitySpec], edges: Sequence[Edge]) -> None:
        self.specs: dict[str, EntitySpec] = {}
        for spec in specs:
            if spec.id in self.specs:
                raise ValueError(f"entity {spec.id!r} is defined twice")
            self.specs[spec.id] = spec
        for edge in edges:
            for end in (edge.source, edge.target):
                if end not in self.specs:
                    raise ValueError(f"relation names unknown entity {end!r}")
        self.ids: list[str] = list(self.specs)
        self.edges: list[Edge] = list(edges)
        self._index = {entity_id: i for i, entity_id in enumerate(self.ids)}
        self._deps: dict[str, list[Edge]] = {i: [] for i in self.ids}
        self._callers: dict[str, list[str]] = {i: [] for i in self.ids}
        for edge in self.edges:
            if edge.kind != RelationKind.RUNS_ON:
                self._deps[edge.source].append(edge)
                self._callers[edge.target].append(edge.source)
        self.order = self._dependency_order()

    # -- lookups -----------------------------------------------------------------------

    def index(self, entity_id: str) -> int:
        return self._index[entity_id]

    def kind(self, entity_id: str) -> str:
        return self.specs[entity_id].kind

    def of_kind(self, *kinds: str) -> list[str]:
        return [i for i in self.ids if self.specs[i].kind in kinds]

    def dependencies(self, entity_id: str) -> list[Edge]:
        """Outgoing calls and depends_on edges: what a slow or failing entity hurts."""
        return list(self._deps[entity_id])

    def callers(self, entity_id: str) -> list[str]:
        return list(self._callers[entity_id])

    def hosted_on(self, host: str) -> list[str]:
        return [i for i in self.ids if self.specs[i].host == host]

    def database_of(self, entity_id: str) -> str | None:
        for edge in self.dependencies(entity_id):
            if self.specs[edge.target].kind == DATABASE:
                return edge.target
        return None

    def user_facing(self) -> list[str]:
        return [i for i in self.ids if self.specs[i].user_facing]

    # -- model objects -----------------------------------------------------------------

    @property
    def entities(self) -> list[Entity]:
        out = []
        for spec in self.specs.values():
            labels = {"user_facing": "true" if spec.user_facing else "false"}
            if spec.team:
                labels["team"] = spec.team
            if spec.language:
                labels["language"] = spec.language
            if spec.host:
                labels["host"] = spec.host
            if spec.ip:
                labels["ip"] = spec.ip
            out.append(Entity(id=spec.id, kind=spec.kind, name=spec.id, labels=labels))
        return out

    @property
    def relations(self) -> list[Relation]:
        # A service drains its queue through a plain dependency edge inside the model; to
        # the outside it is said as it is, a ``consumes`` relation.
        out = [Relation(source=e.source, target=e.target,
                        kind=RelationKind.CONSUMES
                        if self.specs[e.source].consumes == e.target else e.kind)
               for e in self.edges]
        out += [Relation(source=s.id, target=s.host, kind=RelationKind.RUNS_ON)
                for s in self.specs.values() if s.host]
        return out

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """The body of ``POST /api/v1/topology``."""
        return {
            "entities": [e.model_dump(mode="json") for e in self.entities],
            "relations": [r.model_dump(mode="json") for r in self.relations],
        }

    def _dependency_order(self) -> list[str]:
        """Callees before callers, so composed latencies can be computed in one pass."""
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(node: str, path: tuple[str, ...]) -> None:
            if state.get(node) == 2:
                return
            if state.get(node) == 1:
                raise ValueError(f"call graph has a cycle through {' -> '.join(path)}")
            state[node] = 1
            for edge in self.dependencies(node):
                visit(edge.target, (*path, edge.target))
            state[node] = 2
            order.append(node)

        for node in self.ids:
            visit(node, (node,))
        return order


def _svc(id: str, host: str, p50: float, *, team: str, language: str, ip: str,
         entry_rps: float = 0.0, cpu_per_rps: float = 0.004, mem_mib: float = 384,
         limit_mib: float = 1024, pool: int = 0, user_facing: bool = False,
         error_ratio: float = 0.002, consumes: str = "") -> EntitySpec:
    return EntitySpec(
        id=id, kind=SERVICE, host=host, self_p50_s=p50, entry_rps=entry_rps,
        base_error_ratio=error_ratio, cpu_idle=0.04, cpu_per_rps=cpu_per_rps,
        memory_base_bytes=mem_mib * MIB, memory_limit_bytes=limit_mib * MIB, pool_size=pool,
        team=team, language=language, user_facing=user_facing, ip=ip, consumes=consumes,
    )


def default_shop() -> Topology:
    """A small online shop: 12 services, three databases, a cache, a queue and four hosts."""
    specs = [
        _svc("gateway", "host-1", 0.004, team="platform", language="go", ip="10.0.1.10",
             entry_rps=80.0, cpu_per_rps=0.0015, mem_mib=192, limit_mib=512,
             user_facing=True, error_ratio=0.001),
        _svc("frontend", "host-1", 0.035, team="web", language="node", ip="10.0.1.11",
             cpu_per_rps=0.004, mem_mib=640, limit_mib=1536, user_facing=True),
        _svc("user", "host-1", 0.008, team="identity", language="go", ip="10.0.1.12",
             cpu_per_rps=0.002, mem_mib=256, limit_mib=768, pool=20),
        _svc("email", "host-1", 0.09, team="orders", language="python", ip="10.0.1.13",
             cpu_per_rps=0.02, mem_mib=320, limit_mib=768, error_ratio=0.004,
             consumes="orders-queue"),
        _svc("cart", "host-2", 0.006, team="orders", language="go", ip="10.0.2.10",
             cpu_per_rps=0.003, mem_mib=256, limit_mib=768),
        _svc("checkout", "host-2", 0.045, team="orders", language="java", ip="10.0.2.11",
             cpu_per_rps=0.03, mem_mib=900, limit_mib=2048, pool=30),
        _svc("payment", "host-2", 0.18, team="payments", language="java", ip="10.0.2.12",
             cpu_per_rps=0.02, mem_mib=700, limit_mib=1536, pool=20, error_ratio=0.006),
        _svc("shipping", "host-2", 0.03, team="orders", language="python", ip="10.0.2.13",
             cpu_per_rps=0.02, mem_mib=300, limit_mib=768, pool=10),
        _svc("catalog", "host-3", 0.012, team="catalog", language="java", ip="10.0.3.10",
             cpu_per_rps=0.004, mem_mib=1100, limit_mib=2048, pool=40),
        _svc("search", "host-3", 0.04, team="catalog", language="java", ip="10.0.3.11",
             cpu_per_rps=0.012, mem_mib=1400, limit_mib=3072),
        _svc("recommendation", "host-3", 0.05, team="growth", language="python",
             ip="10.0.3.12", cpu_per_rps=0.009, mem_mib=1200, limit_mib=2560),
        _svc("inventory", "host-3", 0.01, team="catalog", language="go", ip="10.0.3.13",
             cpu_per_rps=0.003, mem_mib=220, limit_mib=640, pool=20),
        EntitySpec(id="orders-db", kind=DATABASE, host="host-4", self_p50_s=0.003,
                   cpu_idle=0.06, cpu_per_rps=0.004, memory_base_bytes=3.2 * GIB,
                   memory_limit_bytes=8 * GIB, pool_size=100, team="dba",
                   language="postgres", ip="10.0.4.10"),
        EntitySpec(id="users-db", kind=DATABASE, host="host-4", self_p50_s=0.002,
                   cpu_idle=0.05, cpu_per_rps=0.002, memory_base_bytes=1.5 * GIB,
                   memory_limit_bytes=4 * GIB, pool_size=60, team="dba",
                   language="postgres", ip="10.0.4.11"),
        EntitySpec(id="catalog-db", kind=DATABASE, host="host-4", self_p50_s=0.002,
                   cpu_idle=0.05, cpu_per_rps=0.0015, memory_base_bytes=2.4 * GIB,
                   memory_limit_bytes=6 * GIB, pool_size=120, team="dba",
                   language="postgres", ip="10.0.4.12"),
        EntitySpec(id="redis-cache", kind=CACHE, host="host-3", self_p50_s=0.0006,
                   cpu_idle=0.03, cpu_per_rps=0.0004, memory_base_bytes=1.1 * GIB,
                   memory_limit_bytes=2 * GIB, team="platform", language="redis",
                   ip="10.0.3.20"),
        EntitySpec(id="orders-queue", kind=QUEUE, host="host-3", self_p50_s=0.002,
                   cpu_idle=0.03, cpu_per_rps=0.002, memory_base_bytes=600 * MIB,
                   memory_limit_bytes=2 * GIB, team="platform", language="rabbitmq",
                   ip="10.0.3.21"),
    ]
    # host-3's disk sits just under the 85% alert threshold: a realistic flapping warning.
    specs += [
        EntitySpec(id=f"host-{n}", kind=HOST, cpu_idle=0.05, memory_base_bytes=1.2 * GIB,
                   memory_limit_bytes=16 * GIB, team="infra", ip=f"10.0.{n}.1", disk_usage=disk)
        for n, disk in zip(range(1, 5), (0.42, 0.58, 0.842, 0.63), strict=True)
    ]
    calls, uses = RelationKind.CALLS, RelationKind.DEPENDS_ON
    edges = [
        Edge("gateway", "frontend", calls, 1.0),
        Edge("gateway", "user", calls, 0.3),
        Edge("frontend", "catalog", calls, 0.8),
        Edge("frontend", "search", calls, 0.25),
        Edge("frontend", "cart", calls, 0.3),
        Edge("frontend", "recommendation", calls, 0.5),
        Edge("frontend", "checkout", calls, 0.05),
        Edge("frontend", "user", calls, 0.4),
        Edge("checkout", "cart", calls, 1.0),
        Edge("checkout", "payment", calls, 1.0),
        Edge("checkout", "shipping", calls, 1.0),
        Edge("checkout", "inventory", calls, 1.0),
        Edge("checkout", "user", calls, 1.0),
        Edge("search", "catalog", calls, 1.0),
        Edge("recommendation", "catalog", calls, 1.0),
        Edge("catalog", "inventory", calls, 0.5),
        Edge("cart", "redis-cache", uses, 2.0),
        Edge("user", "users-db", uses, 2.0),
        Edge("user", "redis-cache", uses, 1.0),
        Edge("catalog", "catalog-db", uses, 1.5),
        Edge("catalog", "redis-cache", uses, 2.0),
        Edge("recommendation", "redis-cache", uses, 1.0),
        Edge("inventory", "catalog-db", uses, 2.0),
        Edge("checkout", "orders-db", uses, 4.0),
        Edge("checkout", "orders-queue", uses, 1.0),
        Edge("payment", "orders-db", uses, 2.0),
        Edge("shipping", "orders-db", uses, 2.0),
        Edge("email", "orders-queue", uses, 1.0),
    ]
    return Topology(specs, edges)
