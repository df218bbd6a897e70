"""Root-cause ranking of a live incident from stored data: candidates, windows, ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from opscope.analyze.rca import RcaConfig
from opscope.analyze.rca.live import (
    LiveRcaConfig,
    MemoryEvidence,
    build_inputs,
    candidates,
    member_records,
    rank_incident,
)
from opscope.model import Anomaly, Change, MetricSample, Relation
from opscope.model.incident import Incident, IncidentMember, IncidentStatus, Signal, SignalKind

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# web -> api -> db -> disk-host; batch is unrelated; api also calls cache.
RELATIONS = [Relation(source="web", target="api"), Relation(source="api", target="db"),
             Relation(source="db", target="disk-host"), Relation(source="api", target="cache")]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def member(entity: str, minute: float, kind: SignalKind = SignalKind.ALERT) -> IncidentMember:
    sig = Signal(id=f"am/{entity}", kind=kind, name="HighLatency", entity=entity,
                 starts_at=at(minute), last_seen=at(minute), summary="slow")
    return IncidentMember(incident_id="inc-1", signal=sig, joined_at=at(minute))


def incident(entities: list[str], minute: float) -> Incident:
    return Incident(id="inc-1", status=IncidentStatus.OPEN, opened_at=at(minute),
                    updated_at=at(minute), entities=entities, root_candidates=entities[-1:])


def test_candidates_add_dependencies_and_callers_within_the_hop_limit() -> None:
    inc = incident(["api"], 10)
    found = candidates(inc, [member("api", 10)], RELATIONS, LiveRcaConfig(neighbour_hops=2))
    assert found[0] == "api"
    assert set(found) == {"api", "db", "cache", "disk-host", "web"}
    one = candidates(inc, [member("api", 10)], RELATIONS, LiveRcaConfig(neighbour_hops=1))
    assert set(one) == {"api", "db", "cache", "web"}
    none = candidates(inc, [member("api", 10)], RELATIONS, LiveRcaConfig(neighbour_hops=0))
    assert none == ["api"]


def shop(fault_minute: float, cause: str) -> MemoryEvidence:
    """Latency of web, api, db and cache each minute; ``cause`` and its callers break."""
    rng = np.random.default_rng(11)
    callers = {"db": {"db", "api", "web"}, "api": {"api", "web"}, "cache": {"cache", "api",
                                                                            "web"}}[cause]
    source = MemoryEvidence()
    for minute in range(60):
        for entity, level in (("web", 0.1), ("api", 0.05), ("db", 0.01), ("cache", 0.002)):
            broken = minute >= fault_minute and entity in callers
            source.add_samples([MetricSample(
                name="latency_seconds", labels={"service": entity},
                value=level + (0.4 if broken else 0.0) + rng.normal(0, level / 20),
                ts=at(minute))])
    return source


def test_a_silent_dependency_that_explains_the_alerts_ranks_first_unless_alerts_weigh(
) -> None:
    # Only web and api alerted; the database never did, but it moved with them and both
    # alerting services call it.
    source = shop(30, "db")
    inc = incident(["api", "web"], 32)
    members = [member("web", 32), member("api", 32.5)]
    plain = LiveRcaConfig(rca=RcaConfig(anomaly_weight=0.0))
    ranked = rank_incident(source, inc, members, RELATIONS, at(40), plain)
    assert ranked[0].entity == "db"
    assert ranked[0].rank == 1 and ranked[0].evidence and ranked[0].reason
    assert {h.entity for h in ranked} >= {"web", "api", "db", "cache"}
    assert ranked[-1].score <= ranked[0].score
    # By default an entity's own firing alert doubles its score: api (alerting, and
    # explaining web) now outranks the database that explains both but never alerted.
    default = rank_incident(source, inc, members, RELATIONS, at(40))
    assert [h.entity for h in default[:2]] == ["api", "db"]


def test_the_window_has_a_reference_before_the_fault_and_ends_at_ranking_time() -> None:
    source = shop(30, "api")
    cfg = LiveRcaConfig(lookback_minutes=3, reference_minutes=20, neighbour_hops=0)
    inputs = build_inputs(source, incident(["api"], 32), [member("api", 32)], RELATIONS,
                          at(36), cfg)
    assert inputs.fault_time == at(29).timestamp()
    (series,) = inputs.series
    assert series.times[0] == at(9).timestamp()
    assert series.times[-1] == at(36).timestamp()  # inclusive of the ranking time
    assert [a.kind for a in inputs.anomalies] == ["alert"]


def test_changes_and_anomalies_near_the_onset_come_along() -> None:
    source = shop(30, "api")
    source.changes += [Change(entity="api", ts=at(28), version="v7"),
                       Change(entity="api", ts=at(-100), version="old")]
    source.anomalies.append(Anomaly(kind="log_new_template", entity="api", ts=at(31),
                                    score=3.0))
    inputs = build_inputs(source, incident(["api"], 32), [member("api", 32)], RELATIONS,
                          at(40))
    assert [c.version for c in inputs.changes] == ["v7"]
    assert sorted(a.kind for a in inputs.anomalies) == ["alert", "log_new_template"]
    ranked = rank_incident(source, incident(["api"], 32), [member("api", 32)], RELATIONS,
                           at(40))
    assert ranked[0].entity == "api"
    assert any(e.kind == "change" for e in ranked[0].evidence)


def test_every_member_with_an_entity_becomes_an_alarm_record() -> None:
    records = member_records([member("api", 1), member("db", 2, kind=SignalKind.ANOMALY),
                              member("", 3)])
    assert [(r.kind, r.entity, r.ts) for r in records] == [("alert", "api", at(1)),
                                                            ("anomaly", "db", at(2))]


def test_an_anomaly_in_the_incident_counts_like_an_alert() -> None:
    # The database broke and its callers followed; the incident holds one new error
    # template on api. Like an alert would, it makes api the first suspect; the same
    # template outside the incident is only log evidence, which does not outweigh
    # the database's position under both callers.
    source = shop(30, "db")
    source.anomalies.append(Anomaly(kind="log_new_template", entity="api", ts=at(31),
                                    score=3.0))
    inc = incident(["api"], 31)
    inside = rank_incident(source, inc, [member("api", 31, kind=SignalKind.ANOMALY)],
                           RELATIONS, at(40))
    assert inside[0].entity == "api"
    outside = rank_incident(source, inc, [member("web", 31)], RELATIONS, at(40))
    assert outside[0].entity != "api"


def test_nothing_stored_gives_no_hypotheses() -> None:
    inc = incident(["api"], 10)
    assert rank_incident(MemoryEvidence(), inc, [], RELATIONS, at(12)) == []
