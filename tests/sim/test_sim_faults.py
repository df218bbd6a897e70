"""Injected faults: their spread along the call graph, the alerts they raise, ground truth."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from opscope.errors import ValidationFailed
from opscope.model import Event, Level
from opscope.sim import Batch, FaultKind, FaultScheduleConfig, Simulation, SimulationConfig
from opscope.sim import run_fast as run

START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
QUIET = SimulationConfig(noise_alerts_per_hour=0, deploys_per_day=0)
CHAIN = ["payment", "checkout", "frontend", "gateway"]  # the root, then its callers
Run = tuple[Simulation, Batch]


def collect(sim: Simulation, seconds: float) -> Batch:
    out = Batch()
    for batch in run(sim, seconds):
        out.extend(batch)
    return out


def series(batch: Batch, name: str, service: str, quantile: str | None = None
           ) -> list[tuple[datetime, float]]:
    return [(m.ts, m.value) for m in batch.metrics
            if m.name == name and m.labels.get("service") == service
            and m.labels.get("quantile") == quantile]


def firing(events: list[Event], name: str) -> dict[str, datetime]:
    return {e.entity: e.starts_at for e in events
            if e.name == name and e.status.value == "firing"}


@pytest.fixture(scope="module")
def payment_latency() -> tuple[Simulation, Batch]:
    sim = Simulation(seed=11, start=START, config=QUIET)
    sim.inject("latency", "payment", at=START + timedelta(minutes=3), duration=300)
    return sim, collect(sim, 15 * 60)


def test_root_moves_first_then_each_caller_in_turn(payment_latency: Run) -> None:
    sim, batch = payment_latency
    fault_start = START + timedelta(minutes=3)
    first: dict[str, datetime] = {}
    for service in CHAIN:
        p95 = series(batch, "http_request_duration_seconds", service, "0.95")
        before = max(v for ts, v in p95 if ts <= fault_start)
        first[service] = min(ts for ts, v in p95 if ts > fault_start and v > 1.5 * before)
    times = [first[s] for s in CHAIN]
    assert times == sorted(times) and len(set(times)) == len(times), first
    assert first["payment"] <= fault_start + timedelta(seconds=30)
    # Services off the path do not move.
    for service in ("catalog", "search", "cart"):
        p95 = series(batch, "http_request_duration_seconds", service, "0.95")
        assert max(v for _, v in p95) < sim.latency_slo(service)


def test_alerts_fire_on_root_and_callers_then_resolve(payment_latency: Run) -> None:
    _, batch = payment_latency
    fault_end = START + timedelta(minutes=8)
    fired = firing(batch.events, "HighLatency")
    assert set(fired) == set(CHAIN)
    assert min(fired, key=fired.__getitem__) == "payment"
    assert fired["payment"] < fired["gateway"]
    for event in batch.events:
        assert event.source == "sim-alertmanager"
    ours = [e for e in batch.events if e.entity in CHAIN]
    assert {e.name for e in ours} == {"HighLatency"}
    resolved = [e for e in ours if e.status.value == "resolved"]
    by_fp = {e.fingerprint for e in ours if e.status.value == "firing"}
    assert by_fp == {e.fingerprint for e in resolved}  # everything that fired resolved
    for e in resolved:
        assert e.ends_at is not None and fault_end <= e.ends_at <= fault_end + timedelta(
            minutes=3)


def test_ground_truth_names_root_and_affected(payment_latency: Run) -> None:
    sim, _ = payment_latency
    [truth] = sim.ground_truth()
    assert truth.kind is FaultKind.LATENCY and truth.root_entity == "payment"
    assert truth.start == START + timedelta(minutes=3)
    assert truth.end == START + timedelta(minutes=8)
    assert truth.affected_entities == sorted(CHAIN)
    assert truth.fault_id == "fault-0001"


def test_error_burst_spreads_errors_and_error_logs() -> None:
    sim = Simulation(seed=12, start=START, config=QUIET)
    sim.inject(FaultKind.ERROR_BURST, "inventory", at=START + timedelta(minutes=2),
               duration=240)
    batch = collect(sim, 10 * 60)
    fired = firing(batch.events, "HighErrorRate")
    assert {"inventory", "checkout", "catalog", "frontend", "gateway"} <= set(fired)
    assert min(fired, key=fired.__getitem__) == "inventory"
    errors = [r for r in batch.logs if r.level is Level.ERROR]
    own = [r for r in errors if r.entity == "inventory"]
    assert len(own) > 20 and all(r.ts >= START + timedelta(minutes=2) for r in own)
    assert any("unhandled exception" in r.message for r in own)
    assert any("inventory" in r.message for r in errors if r.entity == "catalog")
    before = [r for r in errors if r.ts < START + timedelta(minutes=2)]
    assert len(before) < 0.05 * len(errors)


def test_bad_deploy_change_comes_before_errors_and_is_rolled_back() -> None:
    sim = Simulation(seed=13, start=START, config=QUIET)
    at = START + timedelta(minutes=2)
    sim.inject("bad_deploy", "cart", at=at, duration=300)
    batch = collect(sim, 10 * 60)
    deploy, rollback = batch.changes
    assert (deploy.kind, deploy.entity, deploy.ts) == ("deploy", "cart", at)
    assert (rollback.kind, rollback.ts) == ("rollback", at + timedelta(minutes=5))
    assert rollback.version == deploy.labels["previous_version"]
    assert sim.ground_truth()[0].change_id == deploy.id
    errs = series(batch, "http_errors_ratio", "cart")
    first_high = min(ts for ts, v in errs if v > 0.05)
    assert deploy.ts < first_high <= deploy.ts + timedelta(minutes=2)
    assert firing(batch.events, "HighErrorRate").keys() >= {"cart", "frontend"}


def test_memory_leak_grows_then_kills_the_service() -> None:
    sim = Simulation(seed=14, start=START, config=QUIET)
    sim.inject("memory_leak", "recommendation", at=START + timedelta(minutes=1),
               duration=600)
    batch = collect(sim, 12 * 60)
    mem = [v for ts, v in series(batch, "memory_usage_bytes", "recommendation")
           if ts <= START + timedelta(minutes=5)]
    assert mem[-1] > 1.4 * mem[0]
    up = series(batch, "up", "recommendation")
    assert any(v == 0 for _, v in up) and up[-1][1] == 1
    names = {e.name for e in batch.events if e.entity == "recommendation"}
    assert {"MemoryPressure", "ServiceDown"} <= names
    assert any("Out of memory: Killed process" in r.message and r.entity == "host-3"
               for r in batch.logs)


def test_connection_pool_exhaustion_fills_the_pool() -> None:
    sim = Simulation(seed=15, start=START, config=QUIET)
    sim.inject("connection_pool_exhaustion", "checkout", at=START + timedelta(minutes=1),
               duration=300)
    batch = collect(sim, 8 * 60)
    pool = [v for _, v in series(batch, "db_connections_in_use", "checkout")]
    assert max(pool) == 30 and pool[0] < 10
    fired = firing(batch.events, "ConnectionPoolExhausted")
    assert set(fired) == {"checkout"}
    assert any("connection pool 'orders-db' exhausted" in r.message for r in batch.logs)


def test_host_network_loss_hits_every_service_on_the_host() -> None:
    sim = Simulation(seed=16, start=START, config=QUIET)
    sim.inject("network_loss", "host-2", at=START + timedelta(minutes=1), duration=240)
    collect(sim, 8 * 60)
    [truth] = sim.ground_truth()
    hosted = {"cart", "checkout", "payment", "shipping"}
    assert hosted | {"host-2", "frontend", "gateway"} <= set(truth.affected_entities)


def test_slow_consumer_backs_up_its_queue() -> None:
    sim = Simulation(seed=17, start=START, config=QUIET)
    sim.inject("latency", "email", at=START + timedelta(minutes=1), duration=900)
    batch = collect(sim, 15 * 60)
    assert "orders-queue" in firing(batch.events, "QueueBacklog")
    assert "email" in sim.ground_truth()[0].affected_entities


def test_live_ticket_opens_during_fault_and_resolves_after() -> None:
    cfg = SimulationConfig(noise_alerts_per_hour=0, deploys_per_day=0, ticket_probability=1)
    sim = Simulation(seed=18, start=START, config=cfg)
    sim.inject("error_burst", "checkout", at=START + timedelta(minutes=1), duration=600)
    batch = collect(sim, 40 * 60)
    opened, closed = batch.tickets
    assert opened.id == closed.id and opened.status == "open" and closed.status == "resolved"
    assert START + timedelta(minutes=4) <= opened.created_at < START + timedelta(minutes=11)
    assert closed.labels["root_cause"] == "checkout" and "checkout" in closed.resolution


@pytest.mark.parametrize(("kind", "entity", "message"), [
    ("latency", "nope", "unknown entity"),
    ("meteor_strike", "cart", "unknown fault kind"),
    ("error_burst", "host-1", "cannot be injected"),
    ("connection_pool_exhaustion", "cart", "cannot be injected"),
])
def test_invalid_injections_are_refused(kind: str, entity: str, message: str) -> None:
    sim = Simulation(seed=1, start=START)
    with pytest.raises(ValidationFailed, match=message):
        sim.inject(kind, entity)


def test_faults_cannot_start_in_the_past() -> None:
    sim = Simulation(seed=1, start=START)
    sim.tick()
    with pytest.raises(ValidationFailed, match="before"):
        sim.inject("latency", "cart", at=START)
    with pytest.raises(ValidationFailed, match="duration"):
        sim.inject("latency", "cart", duration=0)


def test_random_schedule_is_seeded_and_keeps_faults_apart() -> None:
    cfg = FaultScheduleConfig(every_minutes=6, first_after_minutes=1, min_duration_minutes=2,
                              max_duration_minutes=4, quiet_gap_minutes=1)

    def truths(seed: int) -> list[tuple[str, str, datetime, datetime]]:
        sim = Simulation(seed=seed, start=START, step_seconds=30,
                         config=SimulationConfig(log_volume=0))
        sim.faults.schedule_random(cfg)
        for _ in run(sim, 3600):
            pass
        return [(g.kind.value, g.root_entity, g.start, g.end) for g in sim.ground_truth()]

    first = truths(21)
    assert first == truths(21) and first != truths(22)
    assert 7 <= len(first) <= 12
    assert first[0][2] == START + timedelta(minutes=1)
    for (_, _, _, end), (_, _, start, _) in itertools.pairwise(first):
        assert start >= end + timedelta(minutes=1)
    assert len({kind for kind, *_ in first}) >= 4


@pytest.mark.parametrize(("kind", "root", "alerted"), [
    ("cpu_hog", "catalog", {"catalog", "search", "frontend"}),
    ("memory_leak", "cart", {"cart"}),
    ("latency", "catalog-db", {"catalog-db", "catalog", "inventory"}),
    ("error_burst", "shipping", {"shipping", "checkout"}),
    ("connection_pool_exhaustion", "payment", {"payment", "checkout"}),
    ("bad_deploy", "search", {"search", "frontend"}),
    ("network_loss", "host-1", {"host-1", "gateway", "user"}),
])
def test_every_kind_of_fault_raises_alerts_where_expected(kind: str, root: str,
                                                          alerted: set[str]) -> None:
    sim = Simulation(seed=19, start=START, config=SimulationConfig(
        log_volume=0, noise_alerts_per_hour=0, deploys_per_day=0))
    fault = sim.inject(kind, root, at=START + timedelta(minutes=1), duration=360,
                       intensity=0.6)
    batch = collect(sim, 10 * 60)
    ours = [e for e in batch.events if e.name != "DiskSpaceLow"]
    fired = {e.entity: e.starts_at for e in reversed(ours) if e.status.value == "firing"}
    assert alerted <= set(fired), fired
    assert all(fault.start <= ts <= fault.end for ts in fired.values())  # first firings
    last = max(e.ends_at for e in ours if e.ends_at is not None)
    assert last <= fault.end + timedelta(minutes=3)
    assert sum(e.status.value == "firing" for e in ours) == sum(
        e.status.value == "resolved" for e in ours)
    [truth] = sim.ground_truth()
    assert alerted <= set(truth.affected_entities)
