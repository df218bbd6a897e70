"""Hop distances in the dependency graph, directed, for linking signals to incidents.

A relation ``source -> target`` (calls, depends on, runs on) means trouble in ``target``
shows up in ``source``: symptoms travel to *dependents*. So a signal on a dependent of an
incident's entity is a likely symptom of it, and a signal on a dependency of the
incident's deepest entities may be its cause.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from opscope.model.topology import Entity, Relation, RelationKind


class TopologyIndex:
    """Bounded BFS neighbourhoods per entity, computed once and cached."""

    def __init__(self, entities: Iterable[Entity] = (), relations: Iterable[Relation] = (),
                 max_hops: int = 3, impact_label: str = "user_facing",
                 impact_kinds: Iterable[str] = ()) -> None:
        self.max_hops = max_hops
        self.entities = {e.id: e for e in entities}
        self._deps: dict[str, set[str]] = {}
        self._dependents: dict[str, set[str]] = {}
        self._service_deps: dict[str, set[str]] = {}
        self._hosts: dict[str, set[str]] = {}
        for rel in relations:
            self._deps.setdefault(rel.source, set()).add(rel.target)
            self._dependents.setdefault(rel.target, set()).add(rel.source)
            if rel.kind is RelationKind.RUNS_ON:
                self._hosts.setdefault(rel.source, set()).add(rel.target)
            else:
                self._service_deps.setdefault(rel.source, set()).add(rel.target)
        kinds = set(impact_kinds)
        self.user_facing = {
            e.id for e in self.entities.values()
            if e.labels.get(impact_label, "").lower() == "true" or e.kind in kinds}
        self.user_facing |= self._unmarked_entry_points()
        self._fwd: dict[str, dict[str, int]] = {}
        self._rev: dict[str, dict[str, int]] = {}
        self._impact: dict[str, frozenset[str]] = {}

    def _unmarked_entry_points(self) -> set[str]:
        """Entry points of the call graph (nothing depends on them) in each connected part
        that has no entity marked user facing."""
        nodes = set(self._deps) | set(self._dependents)
        seen: set[str] = set()
        out: set[str] = set()
        for start in sorted(nodes):
            if start in seen:
                continue
            part = {start}
            stack = [start]
            while stack:
                node = stack.pop()
                for nxt in self._deps.get(node, set()) | self._dependents.get(node, set()):
                    if nxt not in part:
                        part.add(nxt)
                        stack.append(nxt)
            seen |= part
            if not part & self.user_facing:
                out |= {n for n in part if not self._dependents.get(n)
                        and n in self._service_deps}
        return out

    def __bool__(self) -> bool:
        return bool(self._deps)

    @staticmethod
    def _bfs(start: str, edges: dict[str, set[str]], limit: int | None) -> dict[str, int]:
        dist = {start: 0}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if limit is not None and dist[node] >= limit:
                continue
            for nxt in edges.get(node, ()):
                if nxt not in dist:
                    dist[nxt] = dist[node] + 1
                    queue.append(nxt)
        return dist

    def dependencies(self, entity: str) -> dict[str, int]:
        """Entities ``entity`` depends on within ``max_hops`` (itself at 0)."""
        found = self._fwd.get(entity)
        if found is None:
            found = self._fwd[entity] = self._bfs(entity, self._deps, self.max_hops)
        return found

    def dependents(self, entity: str) -> dict[str, int]:
        """Entities that depend on ``entity`` within ``max_hops`` (itself at 0)."""
        found = self._rev.get(entity)
        if found is None:
            found = self._rev[entity] = self._bfs(entity, self._dependents, self.max_hops)
        return found

    def direct_service_deps(self, entity: str) -> set[str]:
        """Direct call/depends-on targets (not hosts): shared ones make siblings."""
        return self._service_deps.get(entity, set())

    def hosts(self, entity: str) -> set[str]:
        """What ``entity`` runs on directly (its host, node, VM)."""
        return self._hosts.get(entity, set())

    def roots(self, entities: Iterable[str]) -> list[str]:
        """Entities in the set that depend on no other entity of the set (within reach)."""
        members = set(entities)
        out = []
        for e in members:
            deps = self.dependencies(e)
            if not any(d in members and d != e for d in deps):
                out.append(e)
        return sorted(out)

    def impact(self, entities: Iterable[str]) -> list[str]:
        """User-facing entities among ``entities`` or depending on them (any distance)."""
        out: set[str] = set()
        for e in entities:
            found = self._impact.get(e)
            if found is None:
                reach = self._bfs(e, self._dependents, None)
                found = self._impact[e] = frozenset(reach.keys() & self.user_facing)
            out |= found
        return sorted(out)
