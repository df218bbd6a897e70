"""The live incident stage: one thread, event time, paced ranking, operator actions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from opscope.analyze.correlate import stage as stage_module
from opscope.analyze.correlate.stage import (
    DOWN_MUTES_REST,
    IncidentStage,
    IncidentStageConfig,
    MemoryIncidentSink,
)
from opscope.analyze.rca.live import MemoryEvidence
from opscope.config import Correlation
from opscope.errors import NotFound, ValidationFailed
from opscope.model import Entity, Event, MetricSample, Relation
from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import (
    ChangeKind,
    Incident,
    IncidentChange,
    IncidentStatus,
    Matcher,
    Silence,
    TimelineKind,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ENTITIES = [Entity(id="web"), Entity(id="api"), Entity(id="db", kind="database"),
            Entity(id="batch")]
RELATIONS = [Relation(source="web", target="api"), Relation(source="api", target="db")]
FAULT_MIN = 40


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fire(name: str, entity: str, minute: float, severity: str = "warning") -> Event:
    return Event(source="am", name=name, entity=entity, severity=severity,
                 summary=f"{name} on {entity}", starts_at=at(minute))


def samples(minute: float, rng: np.random.Generator) -> list[MetricSample]:
    """Latency of web, api and db; db breaks at FAULT_MIN and its callers follow."""
    broken = minute >= FAULT_MIN
    level = {"db": 0.01, "api": 0.05, "web": 0.1}
    extra = {"db": 0.5, "api": 0.5, "web": 0.5} if broken else {}
    return [MetricSample(name="latency_seconds", labels={"service": e},
                         value=level[e] + extra.get(e, 0.0) + rng.normal(0, 0.002),
                         ts=at(minute)) for e in level]


@pytest.fixture()
def evidence() -> MemoryEvidence:
    source = MemoryEvidence()
    rng = np.random.default_rng(3)
    for step in range(0, 60 * 6):
        source.add_samples(samples(step / 6, rng))
    return source


@pytest.fixture()
def stage(evidence: MemoryEvidence) -> Iterator[IncidentStage]:
    st = IncidentStage(MemoryIncidentSink(), evidence, IncidentStageConfig(),
                       ENTITIES, RELATIONS)
    yield st
    st.close()


def sink_of(st: IncidentStage) -> MemoryIncidentSink:
    assert isinstance(st.sink, MemoryIncidentSink)
    return st.sink


def feed_storm(st: IncidentStage, evidence: MemoryEvidence) -> str:
    """The db fault as alerts: web first (symptoms show first), then api, then db."""
    st.handle_events([fire("HighLatency", "web", FAULT_MIN + 1)])
    st.handle_events([fire("HighLatency", "api", FAULT_MIN + 1.2)])
    st.handle_events([fire("DatastoreLatencyHigh", "db", FAULT_MIN + 1.5)])
    incidents: list[Incident] = st.call(lambda engine: engine.incidents())
    assert len(incidents) == 1
    return str(incidents[0].id)


def test_alerts_become_one_incident_ranked_with_the_cause_first(
        stage: IncidentStage, evidence: MemoryEvidence) -> None:
    inc_id = feed_storm(stage, evidence)
    # Time passes through metric samples: follow-up rankings see the whole onset.
    for minute in (43, 44, 45):
        stage.handle_metrics(samples(minute, np.random.default_rng(1)))
    sink = sink_of(stage)
    ranked_at, hypotheses = sink.hypotheses[inc_id]
    assert hypotheses[0].entity == "db"
    assert hypotheses[0].reason and hypotheses[0].evidence
    assert ranked_at >= at(43)
    incident = sink.correlation.incidents[inc_id]
    assert incident.status is IncidentStatus.OPEN
    assert set(incident.entities) == {"web", "api", "db"}


def test_a_ranking_that_puts_another_cause_first_is_published(
        evidence: MemoryEvidence, monkeypatch: pytest.MonkeyPatch) -> None:
    # The ranker's answers in turn: web, web, then db (the cause found once it alerted).
    answers = iter(["web", "web", "db", "db"])

    def ranked(*args: object, **kwargs: object) -> list[Hypothesis]:
        return [Hypothesis(entity=next(answers), signal="latency_seconds", score=1.0, rank=1)]

    monkeypatch.setattr(stage_module, "rank_incident", ranked)
    published: list[IncidentChange] = []
    config = IncidentStageConfig(rca_young_seconds=60, rca_young_interval_seconds=20)
    st = IncidentStage(MemoryIncidentSink(), evidence, config, ENTITIES, RELATIONS,
                       publish=published.extend)
    try:
        st.handle_events([fire("HighLatency", "web", FAULT_MIN + 1),
                          fire("HighLatency", "api", FAULT_MIN + 1)])
        for step in range(1, 5):  # re-ranked 20, 40 and 60 s after opening
            st.handle_metrics(samples(FAULT_MIN + 1 + step / 6, np.random.default_rng(step)))
    finally:
        st.close()
    noted = [t for c in published for t in c.timeline
             if t.kind is TimelineKind.CAUSE_CHANGED]
    # Once, when db replaced web; not at the first ranking, nor when db stayed first.
    assert [(t.summary, t.data["previous"]) for t in noted] == [
        ("most likely cause is now db (latency_seconds), was web", "web")]
    [change] = [c for c in published if noted[0] in c.timeline]
    assert change.kind is ChangeKind.UPDATED


def test_a_growing_storm_is_ranked_once_per_debounce_period(evidence: MemoryEvidence) -> None:
    config = IncidentStageConfig(rca_debounce_seconds=120, rca_young_seconds=0)
    st = IncidentStage(MemoryIncidentSink(), evidence, config, ENTITIES, RELATIONS)
    try:
        st.handle_events([fire("HighLatency", "web", FAULT_MIN + 1),
                          fire("HighLatency", "api", FAULT_MIN + 1)])
        # Thirty more alerts within one minute of event time, one batch each.
        for i in range(30):
            st.handle_events([fire(f"Symptom{i}", "web", FAULT_MIN + 1 + i / 30)])
        assert st.counters.rankings == 1  # at opening; the storm waits for the debounce
        st.handle_metrics(samples(FAULT_MIN + 4, np.random.default_rng(2)))
        assert st.counters.rankings == 2  # once more, after the debounce period
    finally:
        st.close()


def test_a_young_incident_is_re_ranked_on_an_interval_then_only_on_changes(
        evidence: MemoryEvidence) -> None:
    config = IncidentStageConfig(rca_debounce_seconds=120, rca_young_seconds=60,
                                 rca_young_interval_seconds=20)
    st = IncidentStage(MemoryIncidentSink(), evidence, config, ENTITIES, RELATIONS)
    try:
        st.handle_events([fire("HighLatency", "web", FAULT_MIN + 1),
                          fire("HighLatency", "api", FAULT_MIN + 1)])
        assert st.counters.rankings == 1
        # Ninety seconds of samples every ten seconds, and nothing else happens: ranked
        # again 20, 40 and 60 s after opening, then no more while nothing changes.
        for step in range(1, 10):
            st.handle_metrics(samples(FAULT_MIN + 1 + step / 6, np.random.default_rng(step)))
        assert st.counters.rankings == 4
        # A change after the young period waits for the debounce since the last ranking.
        st.handle_events([fire("HighErrorRate", "web", FAULT_MIN + 2 + 4 / 6)])
        assert st.counters.rankings == 4
        st.handle_metrics(samples(FAULT_MIN + 4, np.random.default_rng(10)))
        assert st.counters.rankings == 5
    finally:
        st.close()


def test_rankings_past_the_per_step_budget_wait_for_the_next_step(
        evidence: MemoryEvidence) -> None:
    config = IncidentStageConfig(rca_max_rankings_per_step=1, rca_young_seconds=0)
    st = IncidentStage(MemoryIncidentSink(), evidence, config, ENTITIES, RELATIONS)
    try:
        st.handle_events([fire("HighLatency", "web", FAULT_MIN + 1),
                          fire("HighLatency", "api", FAULT_MIN + 1),
                          fire("JobFailed", "batch", FAULT_MIN + 1, severity="critical")])
        assert len(st.call(lambda engine: engine.incidents())) == 2
        assert st.counters.rankings == 1
        st.handle_metrics(samples(FAULT_MIN + 1 + 1 / 6, np.random.default_rng(1)))
        assert st.counters.rankings == 2
        st.handle_metrics(samples(FAULT_MIN + 1 + 2 / 6, np.random.default_rng(2)))
        assert st.counters.rankings == 2  # both ranked; nothing changed since
    finally:
        st.close()


def test_operator_actions_are_applied_and_recorded(
        stage: IncidentStage, evidence: MemoryEvidence) -> None:
    inc_id = feed_storm(stage, evidence)
    stage.acknowledge(inc_id, "alice")
    sink = sink_of(stage)
    assert sink.correlation.incidents[inc_id].acknowledged_by == "alice"
    members = stage.call(lambda engine: engine.members(inc_id))
    db_signal = next(m.signal.id for m in members if m.signal.entity == "db")
    new = stage.split(inc_id, [db_signal], "bob")
    assert new.id != inc_id and new.entities == ["db"]
    merged = stage.merge(inc_id, [new.id], "carol")
    assert "db" in merged.entities
    resolved = stage.resolve(inc_id, "dave")
    assert resolved.status is IncidentStatus.RESOLVED
    last = sink.correlation.changes[-1]
    assert last.incident.status is IncidentStatus.RESOLVED
    assert any(t.kind is TimelineKind.RESOLVED and t.summary == "resolved by dave"
               for t in last.timeline)
    assert [a[0] for a in sink.actions] == ["ack", "resolve"]
    assert [f.kind.value for f in sink.correlation.feedback] == ["split", "merge"]
    with pytest.raises(ValidationFailed):
        stage.resolve(inc_id, "dave")
    with pytest.raises(NotFound):
        stage.acknowledge("inc-missing", "eve")


def test_silenced_signals_are_kept_and_marked(stage: IncidentStage) -> None:
    silence = Silence(id="s1", matchers=[Matcher(name="entity", value="batch")],
                      starts_at=at(0), ends_at=at(120), created_by="ops")
    stage.add_silence(silence)
    stage.handle_events([fire("JobFailed", "batch", 30, severity="critical")])
    muted = stage.call(lambda engine: engine.muted())
    assert [s.entity for s, _ in muted] == ["batch"]
    assert muted[0][1][0].kind == "silence"
    assert sink_of(stage).silences["s1"] == silence
    expired = stage.expire_silence("s1")
    assert expired.ends_at <= at(30)
    with pytest.raises(NotFound):
        stage.expire_silence("nope")


def test_state_is_saved_on_close_and_restored(evidence: MemoryEvidence) -> None:
    sink = MemoryIncidentSink()
    st = IncidentStage(sink, evidence, IncidentStageConfig(), ENTITIES, RELATIONS)
    inc_id = feed_storm(st, evidence)
    st.close()
    st.close()  # idempotent
    assert sink.states
    again = IncidentStage(sink, evidence, IncidentStageConfig(), ENTITIES, RELATIONS)
    try:
        assert [i.id for i in again.call(lambda engine: engine.incidents())] == [inc_id]
    finally:
        again.close()


def test_topology_updates_reach_the_engine(evidence: MemoryEvidence) -> None:
    st = IncidentStage(MemoryIncidentSink(), evidence, IncidentStageConfig(rank=False))
    try:
        st.handle_topology([(ENTITIES, RELATIONS)])
        st.handle_events([fire("HighLatency", "web", 41), fire("HighLatency", "db", 41.5)])
        incidents = st.call(lambda engine: engine.incidents())
        assert len(incidents) == 1 and set(incidents[0].entities) == {"web", "db"}
    finally:
        st.close()


def test_settings_map_onto_the_engine_config() -> None:
    config = IncidentStageConfig.from_settings(Correlation(
        window_minutes=7, min_signals=3, rca_debounce_seconds=15, down_mutes_rest=True,
        engine={"correlation": {"join_threshold": 0.3}}))
    assert config.engine.correlation.window_minutes == 7
    assert config.engine.correlation.min_signals == 3
    assert config.engine.correlation.join_threshold == 0.3
    assert config.rca_debounce_seconds == 15
    assert [r.id for r in config.engine.inhibit_rules] == [DOWN_MUTES_REST.id]
    with pytest.raises(ValueError):
        IncidentStageConfig.from_settings(Correlation(engine={"bogus": 1}))


def test_settings_reach_the_young_incident_cadence() -> None:
    from opscope.config import Correlation

    conf = IncidentStageConfig.from_settings(
        Correlation(rca_young_seconds=120, rca_young_interval_seconds=5))
    assert (conf.rca_young_seconds, conf.rca_young_interval_seconds) == (120, 5)
