"""Co-occurrence of signal types learned from resolved incidents and operator feedback.

A signal type is ``name@entity``. Each resolved incident counts once for every pair of
types it held; an operator merge counts ``feedback_weight`` times for the merged pairs,
and a split counts that much *against* the separated pairs, so the next time those types
meet, the link is refused.

A group of one type (an alert that resolved without company: a pending group that never
opened, or an incident of one kind of signal) counts as that type occurring *alone*. A
type that mostly occurs alone is background noise of its own kind (a flapping disk
warning, a nightly job running late): the linker trusts its topology links less.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection, Iterable
from typing import Any

STATE_VERSION = 1


class CoOccurrenceModel:
    def __init__(self, min_count: float = 2.0, max_types: int = 64,
                 max_known: int = 50_000, min_alone_count: float = 3.0) -> None:
        self.min_count = min_count
        self.min_alone_count = min_alone_count
        self.max_types = max_types
        self.max_known = max_known
        self.forgotten = 0
        """Types forgotten (the rarest first) because ``max_known`` were counted."""
        self.incidents = 0.0
        self.counts: dict[str, float] = defaultdict(float)
        self.alone: dict[str, float] = defaultdict(float)
        """Per type, how often it occurred as a group of its own (counted in ``counts``)."""
        # neighbours[a][b] = [together, apart]; symmetric.
        self.neighbours: dict[str, dict[str, list[float]]] = defaultdict(dict)

    def _pair(self, a: str, b: str, together: float, apart: float) -> None:
        for x, y in ((a, b), (b, a)):
            cell = self.neighbours[x].setdefault(y, [0.0, 0.0])
            cell[0] += together
            cell[1] += apart

    def learn(self, types: Iterable[str], weight: float = 1.0) -> None:
        """Count one group of types seen together (a resolved incident)."""
        kept = sorted(set(types))[: self.max_types]  # bounds the pair count per incident
        self.incidents += weight
        for t in kept:  # re-inserted: the dict's order is then least recently learned first
            self.counts[t] = self.counts.pop(t, 0.0) + weight
        if len(kept) == 1:
            self.alone[kept[0]] += weight
        for a, b in itertools.combinations(kept, 2):
            self._pair(a, b, weight, 0.0)
        self._forget_rarest()

    def _forget_rarest(self) -> None:
        """Keep at most ``max_known`` types: past it, forget the rarest down to nine tenths
        (so a steady stream of new types sorts once per many incidents, not per one)."""
        if len(self.counts) <= self.max_known:
            return
        # Most counted first; among equals the most recently learned (the latest order).
        order = list(self.counts)
        ranked = sorted(range(len(order)), key=lambda i: (-self.counts[order[i]], -i))
        for t in (order[i] for i in ranked[self.max_known * 9 // 10:]):
            del self.counts[t]
            self.alone.pop(t, None)
            for other in self.neighbours.pop(t, {}):
                near = self.neighbours.get(other)
                if near is not None:
                    near.pop(t, None)
                    if not near:
                        del self.neighbours[other]
            self.forgotten += 1

    def separate(self, left: Iterable[str], right: Iterable[str], weight: float) -> None:
        """Count ``left`` and ``right`` as apart (an operator split them)."""
        lhs = sorted(set(left))[: self.max_types]
        rhs = sorted(set(right))[: self.max_types]
        for a in lhs:
            for b in rhs:
                if a != b:
                    self._pair(a, b, 0.0, weight)

    def score(self, a: str, b: str) -> float:
        """In [-1, 1]: -1 when operators kept them apart more than together, otherwise the
        confidence P(together | the rarer one), 0 below ``min_count`` co-occurrences."""
        if a == b:
            return 0.0
        cell = self.neighbours.get(a, {}).get(b)
        if cell is None:
            return 0.0
        together, apart = cell
        if apart > together:
            return -1.0
        net = together - apart
        if net < self.min_count:
            return 0.0
        base = min(self.counts.get(a, 0.0), self.counts.get(b, 0.0))
        return min(1.0, net / base) if base > 0 else 0.0

    def solitude(self, key: str) -> float:
        """In [0, 1): the share of ``key``'s occurrences that were alone, counting one
        more occurrence in company (so that a short history never judges absolutely); 0
        below ``min_alone_count`` occurrences (too little history to judge)."""
        count = self.counts.get(key, 0.0)
        if count < self.min_alone_count:
            return 0.0
        return min(1.0, self.alone.get(key, 0.0) / (count + 1.0))

    def best(self, key: str, types: Collection[str]) -> float:
        """The strongest link of ``key`` to any of ``types``; any veto wins."""
        near = self.neighbours.get(key)
        if not near:
            return 0.0
        candidates = near.keys() & types if len(near) < len(types) else \
            [t for t in types if t in near]
        best = 0.0
        for other in candidates:
            s = self.score(key, other)
            if s < 0:
                return s
            best = max(best, s)
        return best

    def to_json(self) -> dict[str, Any]:
        pairs = [[a, b, cell[0], cell[1]] for a, near in sorted(self.neighbours.items())
                 for b, cell in sorted(near.items()) if a < b]
        return {"version": STATE_VERSION, "incidents": self.incidents,
                "counts": dict(sorted(self.counts.items())),
                "alone": dict(sorted(self.alone.items())), "pairs": pairs}

    def load_json(self, doc: dict[str, Any]) -> None:
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported co-occurrence state version {doc.get('version')!r}")
        self.incidents = float(doc["incidents"])
        self.counts = defaultdict(float, {k: float(v) for k, v in doc["counts"].items()})
        # States saved before solitude was learned have no "alone" counts.
        self.alone = defaultdict(float, {k: float(v) for k, v in doc.get("alone", {}).items()})
        self.neighbours = defaultdict(dict)
        for a, b, together, apart in doc["pairs"]:
            self._pair(a, b, float(together), float(apart))
