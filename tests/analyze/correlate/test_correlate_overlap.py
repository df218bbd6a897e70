"""Overlapping problems: noise known by its history, re-fired signals, critical trouble."""

from __future__ import annotations

from correlate_kit import fire, m

from opscope.analyze.correlate import CoOccurrenceModel, CorrelationEngine, EngineConfig
from opscope.model import Entity, Event, Relation

# web calls pay and reco; reco uses cache; web and api run on host-a.
ENTITIES = [Entity(id="web", labels={"user_facing": "true"}), Entity(id="pay"),
            Entity(id="reco"), Entity(id="cache", kind="cache"), Entity(id="api"),
            Entity(id="host-a", kind="host")]
RELATIONS = [Relation(source="web", target="pay"), Relation(source="web", target="reco"),
             Relation(source="reco", target="cache"),
             Relation(source="web", target="host-a", kind="runs_on"),
             Relation(source="api", target="host-a", kind="runs_on")]




def resolve(ev: Event, minute: float) -> Event:
    return Event.model_validate({**ev.model_dump(), "status": "resolved", "ends_at": m(minute)})


def engine() -> CorrelationEngine:
    return CorrelationEngine(EngineConfig(), ENTITIES, RELATIONS)


def together(eng: CorrelationEngine, *entities: str) -> bool:
    return any(set(entities) <= set(inc.entities) for inc in eng.incidents())


def test_a_type_that_came_and_went_alone_counts_as_solitary() -> None:
    model = CoOccurrenceModel(min_alone_count=3)
    model.learn(["DiskFull@host-a"])
    model.learn(["DiskFull@host-a"])
    assert model.solitude("DiskFull@host-a") == 0.0  # two occurrences: too little to judge
    for _ in range(2):
        model.learn(["DiskFull@host-a"])
    for _ in range(2):
        model.learn(["HighLatency@web", "HighLatency@pay"])
    model.learn(["HighLatency@web"])
    assert model.solitude("DiskFull@host-a") == 4 / 5
    assert model.solitude("HighLatency@web") == 1 / 4
    assert model.solitude("HighLatency@pay") == 0.0
    copy = CoOccurrenceModel(min_alone_count=3)
    copy.load_json(model.to_json())
    assert copy.solitude("DiskFull@host-a") == 4 / 5
    older = model.to_json()
    del older["alone"]  # a state saved before solitude was learned
    copy.load_json(older)
    assert copy.solitude("DiskFull@host-a") == 0.0


def test_a_pending_group_that_never_opened_is_learned_as_alone() -> None:
    eng = engine()
    disk = fire("DiskFull", "host-a", 0)
    eng.process([disk])
    eng.process([resolve(disk, 2)])
    eng.advance(m(20))
    assert eng.incidents() == []
    assert eng.correlator.learned.alone["DiskFull@host-a"] == 1.0


def replay_disk_then_errors(history: int) -> CorrelationEngine:
    """A disk warning on host-a fires ``history`` times alone, then once more just before
    web (on host-a) starts failing for another reason."""
    eng = engine()
    disk = fire("DiskFull", "host-a", 0)
    for i in range(history):
        eng.process([disk.model_copy(update={"starts_at": m(60 * i)})], now=m(60 * i))
        eng.process([resolve(disk, 60 * i + 2)], now=m(60 * i + 2))
        eng.advance(m(60 * i + 30))
    start = 60 * history
    eng.process([disk.model_copy(update={"starts_at": m(start)})], now=m(start))
    eng.process([fire("HighErrorRate", "web", start + 0.5, "error")], now=m(start + 0.5))
    return eng


def test_noise_known_by_its_history_does_not_pull_in_another_problem() -> None:
    # Without history the disk warning is a plausible cause of web's errors ...
    assert together(replay_disk_then_errors(history=0), "web", "host-a")
    # ... with a history of firing alone it is background noise: web's errors stand alone.
    eng = replay_disk_then_errors(history=4)
    assert not together(eng, "web", "host-a")
    assert any(inc.entities == ["web"] for inc in eng.incidents())


def test_a_signal_that_fires_again_goes_to_the_incident_that_explains_it() -> None:
    eng = engine()
    web = fire("HighLatency", "web", 0.2)
    eng.process([fire("HighLatency", "pay", 0)], now=m(0))
    eng.process([web], now=m(0.2))
    first = eng.incident_of(eng.tracker.get("am", web.fingerprint).id)  # type: ignore[union-attr]
    assert first is not None
    eng.process([resolve(web, 1)], now=m(1))
    # pay's trouble fades; a while later the cache goes down and reco slows ...
    eng.process([fire("ServiceDown", "cache", 3, "critical")], now=m(3))
    eng.process([fire("HighLatency", "reco", 3.2)], now=m(3.2))
    # ... and web's latency alert fires again: reco's trouble explains it now.
    eng.process([web.model_copy(update={"starts_at": m(3.4)})], now=m(3.4))
    signal = eng.tracker.get("am", web.fingerprint)
    assert signal is not None
    now_in = eng.incident_of(signal.id)
    assert now_in is not None and now_in != first
    assert {"cache", "reco", "web"} <= set(eng.get(now_in).entities)  # type: ignore[union-attr]
    # The first incident keeps web's earlier firing as history.
    assert "web" in {mem.signal.entity for mem in eng.members(first)}


def test_a_signal_that_fires_again_stays_when_its_incident_explains_it_best() -> None:
    eng = engine()
    web = fire("HighLatency", "web", 0.2)
    eng.process([fire("HighLatency", "pay", 0)], now=m(0))
    eng.process([web], now=m(0.2))
    signal = eng.tracker.get("am", web.fingerprint)
    assert signal is not None
    first = eng.incident_of(signal.id)
    eng.process([resolve(web, 1)], now=m(1))
    eng.process([fire("HighLatency", "api", 1.5)], now=m(1.5))  # unrelated to web's path
    eng.process([web.model_copy(update={"starts_at": m(1.6)})], now=m(1.6))
    assert eng.incident_of(signal.id) == first


def test_a_dependency_that_is_down_explains_any_symptom_of_its_callers() -> None:
    eng = engine()
    eng.process([fire("ServiceDown", "cache", 0, "critical")], now=m(0))
    eng.process([fire("QueueGrowing", "web", 0.3)], now=m(0.3))  # two hops, another name
    assert together(eng, "cache", "web")
    reasons = [mem.reason for inc in eng.incidents() for mem in eng.members(inc.id)]
    assert any("cache has critical trouble" in r for r in reasons)
