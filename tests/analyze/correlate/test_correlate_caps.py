"""Caps on correlation state: more keys than the cap leave the state at the cap, evictions
are counted, and an evicted firing alert or incident is resolved rather than lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opscope.analyze.correlate import (
    AlertTracker,
    CoOccurrenceModel,
    CorrelationConfig,
    CorrelationEngine,
    DedupConfig,
    EngineConfig,
    FingerprintRule,
    MemoryCorrelationStore,
    UpdateKind,
)
from opscope.analyze.correlate.stage import IncidentStageConfig
from opscope.config import Correlation
from opscope.model import Event
from opscope.model.incident import ChangeKind, IncidentStatus

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def alert(i: int, seconds: float, severity: str = "warning") -> Event:
    at = T0 + timedelta(seconds=seconds)
    return Event(source="am", name=f"Alert{i}", entity=f"host-{i}", severity=severity,
                 labels={"instance": f"10.0.0.{i}"}, starts_at=at, received_at=at)


def test_tracker_stays_at_its_cap_and_resolves_the_least_recently_seen() -> None:
    tracker = AlertTracker(DedupConfig(max_alerts=100))
    for i in range(250):
        tracker.observe(alert(i, i))
        tracker.observe(alert(0, i))  # alert 0 keeps being seen: it is never evicted
        assert len(tracker) <= 100
    assert len(tracker) == 100
    assert tracker.evicted == 150
    evicted = tracker.take_evicted()
    assert len(evicted) == 150
    assert {u.kind for u in evicted} == {UpdateKind.AUTO_RESOLVED}
    assert all(not u.signal.firing for u in evicted)
    assert [u.signal.name for u in evicted[:2]] == ["Alert1", "Alert2"]
    assert tracker.take_evicted() == []
    assert tracker.get("am", alert(0, 0).fingerprint) is not None
    assert tracker.get("am", alert(1, 0).fingerprint) is None
    # An evicted alert that comes back is a new occurrence of a fresh state.
    update = tracker.observe(alert(1, 300))
    assert update is not None and update.kind is UpdateKind.NEW


def test_timers_of_an_evicted_alert_do_not_touch_its_successor() -> None:
    rule = FingerprintRule(source="am", auto_resolve_minutes=1)
    tracker = AlertTracker(DedupConfig(max_alerts=1, rules=[rule]))
    tracker.observe(alert(1, 0))
    tracker.observe(alert(2, 10))  # evicts alert 1; its timer (due at 60 s) stays queued
    tracker.observe(alert(1, 50))  # alert 1 again, a fresh state due at 110 s
    assert tracker.advance(T0 + timedelta(seconds=70)) == []
    signal = tracker.get("am", alert(1, 0).fingerprint)
    assert signal is not None and signal.firing
    updates = tracker.advance(T0 + timedelta(seconds=110))
    assert [u.kind for u in updates] == [UpdateKind.AUTO_RESOLVED]


def test_restoring_into_a_smaller_cap_keeps_the_most_recent() -> None:
    big = AlertTracker(DedupConfig(max_alerts=50))
    for i in range(40):
        big.observe(alert(i, i))
    small = AlertTracker(DedupConfig(max_alerts=10))
    small.load_json(big.to_json())
    assert len(small) == 10
    assert small.evicted == 30
    assert small.get("am", alert(39, 0).fingerprint) is not None
    assert small.get("am", alert(29, 0).fingerprint) is None


def test_engine_caps_alerts_and_active_and_finished_incidents() -> None:
    store = MemoryCorrelationStore()
    config = EngineConfig(dedup=DedupConfig(max_alerts=30), correlation=CorrelationConfig(
        max_active_incidents=10, max_finished_incidents=20))
    engine = CorrelationEngine(config, store=store)
    for i in range(200):  # unrelated hosts: every error alert is an incident of its own
        engine.process([alert(i, i, severity="error")])
        state = engine.bounded_state()
        assert state["alerts"][0] <= 30
        assert state["active_incidents"][0] <= 10
        assert state["finished_incidents"][0] <= 20
    state = engine.bounded_state()
    assert state["alerts"] == (30, 170)
    assert state["active_incidents"] == (10, 190)
    assert state["finished_incidents"][1] > 0
    assert len(engine.incidents()) <= 30
    resolved = [c for c in store.changes if c.kind is ChangeKind.RESOLVED]
    assert len(resolved) == 190
    assert all(c.incident.status is IncidentStatus.RESOLVED for c in resolved)
    assert any("incidents were active" in t.summary for c in resolved for t in c.timeline)


def test_eviction_counts_survive_a_topology_change() -> None:
    config = EngineConfig(correlation=CorrelationConfig(max_active_incidents=2))
    engine = CorrelationEngine(config)
    for i in range(5):
        engine.process([alert(i, i, severity="error")])
    engine.set_topology([], [])
    assert engine.bounded_state()["active_incidents"] == (2, 3)


def test_settings_carry_the_caps_to_the_engine() -> None:
    conf = IncidentStageConfig.from_settings(Correlation(
        max_alerts=7, max_active_incidents=8, max_finished_incidents=9))
    assert conf.engine.dedup.max_alerts == 7
    assert conf.engine.correlation.max_active_incidents == 8
    assert conf.engine.correlation.max_finished_incidents == 9


def test_learned_types_stay_under_their_cap_and_the_frequent_are_kept() -> None:
    model = CoOccurrenceModel(min_count=1, max_known=20)
    for _ in range(3):
        model.learn(["Down@db", "Slow@api"])
    for i in range(100):
        model.learn([f"A{i}@h{i}", f"B{i}@h{i}"])
        assert len(model.counts) <= 20
    assert model.forgotten == 202 - len(model.counts)
    assert "A99@h99" in model.counts and "A0@h0" not in model.counts  # the latest are kept
    assert model.score("Down@db", "Slow@api") == 1.0
    assert all(t in model.counts for t in model.neighbours)
    assert all(set(near) <= set(model.counts) for near in model.neighbours.values())
