"""Deploys and rollbacks: routine releases during working hours, plus the faulty ones."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from opscope.model import Change
from opscope.sim.topology import SERVICE, Topology

AUTHORS = ["alice.martin", "bob.kowalski", "carla.rossi", "deploy-bot", "dmitri.volkov",
           "emma.schmidt", "farid.haddad"]
COMMIT_MESSAGES = [
    "bump dependencies", "add retry with backoff to downstream client", "tune cache TTLs",
    "remove stale feature flag", "improve logging around order submission",
    "upgrade base image", "refactor price rounding", "add index hint to product query",
    "raise request timeout for slow carriers", "translate error messages",
    "fix pagination off-by-one", "update TLS cipher list",
]
# Hours (UTC) of the working day; deploys are rarer outside them and at weekends.
WORKDAY = (8, 18)


class ReleaseTrain:
    """Keeps each service's version and writes the change records of its releases."""

    def __init__(self, topology: Topology, rng: np.random.Generator,
                 deploys_per_day: float) -> None:
        self._rng = rng
        self._per_day = deploys_per_day
        self._services = topology.of_kind(SERVICE)
        self._versions: dict[str, list[tuple[int, int, int]]] = {
            s: [(1, int(rng.integers(0, 15)), int(rng.integers(0, 30)))]
            for s in self._services
        }
        self._count = 0

    def version_of(self, entity: str) -> str:
        history = self._versions.get(entity)
        if not history:
            return "v1.0.0"
        major, minor, patch = history[-1]
        return f"v{major}.{minor}.{patch}"

    def routine(self, t0: datetime, t1: datetime) -> list[Change]:
        """Routine deploys in ``(t0, t1]``, mostly on weekday working hours."""
        seconds = (t1 - t0).total_seconds()
        working = t1.weekday() < 5 and WORKDAY[0] <= t1.hour < WORKDAY[1]
        hours = WORKDAY[1] - WORKDAY[0]
        # Scale so that the expected total per weekday stays ``deploys_per_day``.
        weight = (24 - 0.2 * (24 - hours)) / hours if working else 0.2
        count = int(self._rng.poisson(self._per_day * weight * seconds / 86_400.0))
        out = []
        for _ in range(count):
            service = self._services[int(self._rng.integers(len(self._services)))]
            offset = float(self._rng.uniform(0, seconds))
            ts = t0 + (t1 - t0) * (offset / seconds)
            out.append(self.deploy(service, ts))
        return out

    def deploy(self, entity: str, ts: datetime) -> Change:
        """A new release of ``entity``; faulty releases look exactly like good ones."""
        rng = self._rng
        old = self.version_of(entity)
        major, minor, patch = self._versions[entity][-1]
        new = (major, minor + 1, 0) if rng.uniform() < 0.2 else (major, minor, patch + 1)
        self._versions[entity].append(new)
        message = COMMIT_MESSAGES[int(rng.integers(len(COMMIT_MESSAGES)))]
        author = AUTHORS[int(rng.integers(len(AUTHORS)))]
        sha = format(int(rng.integers(0, 2**40)), "010x")[:7]
        return self._change(entity, "deploy", ts, author,
                            f"Deploy {entity} {old} -> {self.version_of(entity)}: {message}",
                            {"commit": sha, "previous_version": old,
                             "pipeline": f"ci-{int(rng.integers(10_000, 99_999))}"})

    def rollback(self, entity: str, ts: datetime) -> Change:
        """Back to the previous release, as on-call does when a release misbehaves."""
        history = self._versions[entity]
        bad = self.version_of(entity)
        if len(history) > 1:
            history.pop()
        return self._change(entity, "rollback", ts, "oncall",
                            f"Rollback {entity} {bad} -> {self.version_of(entity)}: errors "
                            f"after release", {"previous_version": bad})

    def _change(self, entity: str, kind: str, ts: datetime, author: str, description: str,
                labels: dict[str, str]) -> Change:
        self._count += 1
        return Change(id=f"chg-{self._count:05d}", entity=entity, kind=kind,
                      version=self.version_of(entity), author=author, ts=ts,
                      description=description, labels=labels)
