"""The smaller parts of correlation: topology, learned co-occurrence, the change log, the
stage adapter, flapping and reopened alerts inside incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opscope.analyze.correlate import (
    CoOccurrenceModel,
    CorrelationEngine,
    CorrelationStage,
    DedupConfig,
    EngineConfig,
    TopologyIndex,
)
from opscope.model import Anomaly, Entity, Event, Relation, RelationKind
from opscope.model.incident import ChangeKind, IncidentStatus
from opscope.pipeline.stage import Stage

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fire(name: str, entity: str, minute: float, severity: str = "error") -> Event:
    return Event(source="am", name=name, entity=entity, severity=severity, starts_at=m(minute))


def resolve(ev: Event, minute: float) -> Event:
    return Event.model_validate({**ev.model_dump(), "status": "resolved", "ends_at": m(minute)})


def test_topology_directions_roots_and_impact() -> None:
    topo = TopologyIndex(
        [Entity(id="web", labels={"user_facing": "true"}), Entity(id="api"), Entity(id="db")],
        [Relation(source="web", target="api"), Relation(source="api", target="db"),
         Relation(source="api", target="host", kind=RelationKind.RUNS_ON)], max_hops=2)
    assert topo.dependencies("web") == {"web": 0, "api": 1, "db": 2, "host": 2}
    assert topo.dependencies("db") == {"db": 0}
    assert topo.dependents("db") == {"db": 0, "api": 1, "web": 2}
    assert topo.roots(["web", "api", "db"]) == ["db"]
    assert topo.roots(["db", "host"]) == ["db", "host"]  # unrelated: both are roots
    assert topo.roots(["web", "host"]) == ["host"]
    assert topo.impact(["host"]) == ["web"]
    assert topo.direct_service_deps("api") == {"db"}  # runs-on is not a sibling link


def test_learned_confidence_veto_and_round_trip() -> None:
    model = CoOccurrenceModel(min_count=2)
    model.learn(["a", "b"])
    assert model.score("a", "b") == 0.0  # once is not enough
    model.learn(["a", "b", "c"])
    assert model.score("a", "b") == 1.0
    assert model.score("a", "c") == 0.0
    model.separate(["a"], ["b"], weight=5)
    assert model.score("a", "b") == -1.0
    assert model.best("a", {"b", "c"}) == -1.0  # any veto wins
    twin = CoOccurrenceModel(min_count=2)
    twin.load_json(model.to_json())
    assert twin.to_json() == model.to_json()


def test_one_change_per_incident_per_batch() -> None:
    eng = CorrelationEngine(EngineConfig(), [], [Relation(source="b", target="a")])
    changes = eng.process([fire("X", "a", 0)])
    assert [c.kind for c in changes] == [ChangeKind.OPENED]
    batch = [fire(f"Y{i}", "b", 0.5) for i in range(50)]
    changes = eng.process(batch)
    assert [c.kind for c in changes] == [ChangeKind.UPDATED]
    assert len(changes[0].members) == 50 and len(changes[0].timeline) == 50


def test_opened_and_resolved_in_one_batch_are_two_changes() -> None:
    eng = CorrelationEngine()
    down = fire("Down", "a", 0, "critical")
    changes = eng.process([down, resolve(down, 1)], now=m(10))
    assert [c.kind for c in changes] == [ChangeKind.OPENED, ChangeKind.RESOLVED]
    assert changes[0].incident.status is IncidentStatus.OPEN  # snapshot at the time
    assert changes[1].incident.status is IncidentStatus.RESOLVED


def test_flapping_member_keeps_its_incident_open() -> None:
    config = EngineConfig(dedup=DedupConfig(flap_threshold=3, flap_window_minutes=20))
    eng = CorrelationEngine(config)
    ev = fire("Flappy", "a", 0)
    for minute, note in [(0, ev), (1, resolve(ev, 1)), (2, fire("Flappy", "a", 2)),
                         (3, resolve(fire("Flappy", "a", 2), 3))]:
        eng.process([note], now=m(minute))
    eng.advance(m(15))
    (inc,) = eng.incidents()
    assert inc.status is IncidentStatus.OPEN and inc.firing_count == 1
    eng.advance(m(30))  # quiet for the flap window: resolved at its real resolve time
    (inc,) = eng.incidents()
    assert inc.status is IncidentStatus.RESOLVED and inc.resolved_at == m(3)


def test_alert_reopening_after_its_incident_went_quiet_starts_a_new_one() -> None:
    eng = CorrelationEngine(EngineConfig(dedup=DedupConfig(reopen_minutes=60)))
    ev = fire("Errors", "a", 0)
    eng.process([ev, fire("Other", "a", 0.2)])
    eng.process([resolve(ev, 2)])
    eng.process([fire("Errors", "a", 9)])  # reopened (same occurrence), 9 minutes later
    incidents = sorted(eng.incidents(), key=lambda i: i.opened_at)
    assert len(incidents) == 2
    assert incidents[1].opened_at == m(9)
    old_member = [mem for mem in eng.members(incidents[0].id) if mem.signal.name == "Errors"]
    assert not old_member[0].signal.firing  # the old incident keeps the resolved state


def test_stage_adapter_and_backfilled_learning() -> None:
    eng = CorrelationEngine()
    eng.learn_from([["QueueStuck@billing", "ApiDown@api"]] * 3)
    stage = CorrelationStage(eng)
    assert isinstance(stage, Stage)
    out = stage.process([fire("QueueStuck", "billing", 0, "critical"),
                         fire("ApiDown", "api", 0.1, "critical"),
                         Anomaly(kind="metric", entity="zzz", ts=m(0.2))])
    assert [c.incident.signal_count for c in out] == [2]
