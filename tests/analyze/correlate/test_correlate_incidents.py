"""Correlation into incidents: gate, topology, labels, lifecycle, feedback, stream, state."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest
from correlate_kit import T0, fire, m

from opscope.analyze.correlate import (
    CoOccurrenceModel,
    CorrelationConfig,
    CorrelationEngine,
    EngineConfig,
    EvidenceLinker,
    Link,
    MemoryCorrelationStore,
    TopologyIndex,
)
from opscope.analyze.correlate.incident_state import IncidentState
from opscope.errors import NotFound, ValidationFailed
from opscope.model import Anomaly, Entity, Event, Relation
from opscope.model.incident import ChangeKind, IncidentChange, IncidentStatus, Signal

ENTITIES = [Entity(id="web", labels={"user_facing": "true"}), Entity(id="api"),
            Entity(id="db", kind="database"), Entity(id="billing"), Entity(id="ledger")]
RELATIONS = [Relation(source="web", target="api"), Relation(source="api", target="db"),
             Relation(source="billing", target="ledger")]




def resolve(ev: Event, minute: float) -> Event:
    return Event.model_validate({**ev.model_dump(), "status": "resolved", "ends_at": m(minute)})


def engine(store: MemoryCorrelationStore | None = None,
           correlation: dict[str, object] | None = None) -> CorrelationEngine:
    config = EngineConfig(correlation=CorrelationConfig.model_validate(correlation or {}))
    return CorrelationEngine(config, ENTITIES, RELATIONS, store=store)


GATE_CASES = [
    ("one warning waits", {}, [("HighLatency", "api", "warning")], 0),
    ("two linked warnings open", {}, [("HighLatency", "api", "warning"),
                                      ("HighLatency", "web", "warning")], 1),
    ("one error opens", {}, [("HighErrorRate", "api", "error")], 1),
    ("stricter: two warnings wait", {"min_signals": 3, "min_severity": "critical"},
     [("HighLatency", "api", "warning"), ("HighLatency", "web", "warning")], 0),
    ("stricter: an error waits", {"min_signals": 3, "min_severity": "critical"},
     [("HighErrorRate", "api", "error")], 0),
    ("stricter: a critical opens", {"min_signals": 3, "min_severity": "critical"},
     [("ServiceDown", "api", "critical")], 1),
    ("stricter: three warnings open", {"min_signals": 3, "min_severity": "critical"},
     [("HighLatency", "api", "warning"), ("HighLatency", "web", "warning"),
      ("SlowQueries", "db", "warning")], 1),
]


@pytest.mark.parametrize(("case", "config", "alerts", "opened"), GATE_CASES,
                         ids=[c[0] for c in GATE_CASES])
def test_min_signals_or_severity_gate(case: str, config: dict[str, object],
                                      alerts: list[tuple[str, str, str]], opened: int) -> None:
    eng = engine(correlation=config)
    eng.process([fire(n, e, i * 0.5, s) for i, (n, e, s) in enumerate(alerts)])
    assert len(eng.incidents()) == opened
    assert len(eng.incidents(include_pending=True)) == 1  # always one group, open or not


def test_topology_groups_the_chain_and_keeps_unrelated_apart() -> None:
    eng = engine()
    eng.process([fire("DatastoreLatencyHigh", "db", 0, "error"),
                 fire("HighLatency", "api", 0.5), fire("HighLatency", "web", 1),
                 fire("LedgerDown", "ledger", 1, "critical")])
    by_root = {tuple(i.root_candidates): i for i in eng.incidents()}
    assert set(by_root) == {("db",), ("ledger",)}
    chain = by_root[("db",)]
    assert chain.entities == ["api", "db", "web"]
    assert chain.impact == ["web"]  # the user-facing entity
    assert chain.signal_count == 3 and chain.severity.value == "error"
    reasons = [mem.reason for mem in eng.members(chain.id)]
    assert any("api depends on db" in r for r in reasons)
    # Nothing user-facing is marked on the billing side: its call-graph entry point counts.
    assert by_root[("ledger",)].impact == ["billing"]


def test_cause_alerting_after_its_symptoms_still_joins_early() -> None:
    eng = engine()
    eng.process([fire("HighErrorRate", "web", 0, "error"), fire("HighErrorRate", "api", 0.2,
                                                                "error"),
                 fire("DiskFull", "db", 1.5, "critical")])
    (inc,) = eng.incidents()
    assert inc.root_candidates == ["db"]


def test_far_apart_in_time_is_not_grouped() -> None:
    eng = engine()
    eng.process([fire("HighErrorRate", "api", 0, "error")])
    eng.process([fire("HighErrorRate", "web", 30, "error")])
    assert len(eng.incidents()) == 2


def test_labels_group_without_topology_and_partitions_separate() -> None:
    grouped = CorrelationEngine(EngineConfig(correlation=CorrelationConfig(
        group_by=["cluster"])))
    grouped.process([fire("A", "x", 0, "error", cluster="eu"),
                     fire("B", "y", 1, "error", cluster="eu"),
                     fire("C", "z", 1, "error", cluster="us")])
    sizes = sorted(i.signal_count for i in grouped.incidents())
    assert sizes == [1, 2]
    parted = engine(correlation={"partition_by": ["cluster"]})
    parted.process([fire("HighErrorRate", "api", 0, "error", cluster="eu"),
                    fire("HighErrorRate", "web", 0.5, "error", cluster="us")])
    assert len(parted.incidents()) == 2


def test_resolved_incident_does_not_absorb_and_links_the_recurrence() -> None:
    store = MemoryCorrelationStore()
    eng = engine(store)
    first = [fire("HighErrorRate", "api", 0, "error"), fire("HighErrorRate", "web", 0.5,
                                                            "error")]
    eng.process(first)
    eng.process([resolve(first[0], 3), resolve(first[1], 4)])
    assert eng.incidents()[0].status is IncidentStatus.OPEN  # quiet period not over
    eng.advance(m(9.5))
    (old,) = eng.incidents()
    assert old.status is IncidentStatus.RESOLVED and old.resolved_at == m(4)
    # The same alerts again, later: a new incident, linked to the old one.
    eng.process([fire("HighErrorRate", "api", 40, "error"), fire("HighErrorRate", "web", 40.5,
                                                                 "error")])
    new = [i for i in eng.incidents() if i.id != old.id]
    assert len(new) == 1 and new[0].recurrence_of == old.id
    assert eng.get(old.id) == old  # untouched
    kinds = [c.kind for c in store.changes if c.incident.id == old.id]
    assert kinds[0] is ChangeKind.OPENED and kinds[-1] is ChangeKind.RESOLVED


def test_pending_group_that_never_opens_is_forgotten() -> None:
    eng = engine()
    lone = fire("HighLatency", "api", 0)
    eng.process([lone])
    eng.process([resolve(lone, 2)])
    eng.advance(m(20))
    assert eng.incidents(include_pending=True) == []


def test_merge_is_feedback_that_groups_the_next_time() -> None:
    store = MemoryCorrelationStore()
    eng = engine(store)
    a, b = fire("QueueStuck", "billing", 0, "critical"), fire("ApiDown", "api", 0, "critical")
    eng.process([a, b])
    one, two = sorted(eng.incidents(), key=lambda i: i.entities)
    merged = eng.merge(two.id, [one.id], m(1), actor="ana")
    assert merged.signal_count == 2
    folded = eng.get(one.id)
    assert folded is not None and folded.status is IncidentStatus.MERGED
    assert folded.merged_into == two.id
    assert store.feedback[-1].kind.value == "merge" and store.feedback[-1].actor == "ana"
    eng.process([resolve(a, 2), resolve(b, 2)])
    eng.advance(m(10))
    eng.process([fire("QueueStuck", "billing", 60, "critical"),
                 fire("ApiDown", "api", 60.2, "critical")])
    latest = [i for i in eng.incidents() if i.status is IncidentStatus.OPEN]
    assert len(latest) == 1 and latest[0].signal_count == 2
    assert any("co-occurred before" in mem.reason for mem in eng.members(latest[0].id))


def test_split_is_feedback_that_keeps_them_apart_the_next_time() -> None:
    store = MemoryCorrelationStore()
    eng = engine(store)
    api, web = fire("HighErrorRate", "api", 0, "error"), fire("HighErrorRate", "web", 0.5,
                                                              "error")
    eng.process([api, web])
    (inc,) = eng.incidents()
    web_id = next(mem.signal.id for mem in eng.members(inc.id) if mem.signal.entity == "web")
    split = eng.split(inc.id, [web_id], m(1), actor="bo")
    rest = eng.get(inc.id)
    assert split.entities == ["web"] and rest is not None and rest.entities == ["api"]
    assert store.feedback[-1].kind.value == "split"
    eng.process([resolve(api, 2), resolve(web, 2)])
    eng.advance(m(10))
    eng.process([fire("HighErrorRate", "api", 60, "error"),
                 fire("HighErrorRate", "web", 60.5, "error")])
    assert len([i for i in eng.incidents() if i.status is IncidentStatus.OPEN]) == 2


def test_operator_action_errors() -> None:
    eng = engine()
    eng.process([fire("HighErrorRate", "api", 0, "error")])
    (inc,) = eng.incidents()
    with pytest.raises(NotFound):
        eng.merge(inc.id, ["nope"], m(1))
    with pytest.raises(ValidationFailed):
        eng.merge(inc.id, [inc.id], m(1))
    with pytest.raises(ValidationFailed):
        eng.split(inc.id, [eng.members(inc.id)[0].signal.id], m(1))  # would empty it


def test_acknowledge_and_ticket_are_on_the_incident_and_timeline() -> None:
    store = MemoryCorrelationStore()
    eng = engine(store)
    eng.process([fire("HighErrorRate", "api", 0, "error")])
    (inc,) = eng.incidents()
    eng.acknowledge(inc.id, m(1), "ana")
    done = eng.link_ticket(inc.id, "T-1", m(2))
    assert done.acknowledged_by == "ana" and done.ticket_ids == ["T-1"]
    kinds = [t.kind.value for c in store.changes for t in c.timeline]
    assert kinds[-2:] == ["acknowledged", "ticket_linked"]


def test_anomalies_join_alert_incidents() -> None:
    eng = engine()
    eng.process([fire("HighErrorRate", "api", 0, "error")],
                [Anomaly(kind="metric", detector="zscore", entity="db", subject="db_latency",
                         ts=m(0.5), summary="db latency up")])
    (inc,) = eng.incidents()
    assert inc.entities == ["api", "db"]
    assert {mem.signal.kind.value for mem in eng.members(inc.id)} == {"alert", "anomaly"}


def _scenario() -> list[list[Event]]:
    db = fire("DatastoreLatencyHigh", "db", 0, "error")
    api = fire("HighLatency", "api", 1)
    other = fire("LedgerDown", "ledger", 2, "critical")
    return [[db], [api, other], [resolve(db, 5), resolve(api, 6)], [resolve(other, 7)],
            [fire("HighLatency", "api", 30), fire("HighErrorRate", "web", 30.5, "error")]]


def _stream(changes: list[IncidentChange]) -> list[tuple[int, str, str, str, int]]:
    return [(c.seq, c.kind.value, c.incident.id, c.incident.status.value,
             c.incident.signal_count) for c in changes]


def test_stream_order_and_subscribers() -> None:
    store = MemoryCorrelationStore()
    eng = engine(store)
    seen: list[IncidentChange] = []
    eng.subscribe(seen.append)
    for batch in _scenario():
        eng.process(batch)
    eng.advance(m(60))
    assert seen == store.changes
    assert [c.seq for c in seen] == list(range(len(seen)))
    per_incident: dict[str, list[str]] = {}
    for c in seen:
        per_incident.setdefault(c.incident.id, []).append(c.kind.value)
    finals = []
    for kinds in per_incident.values():
        assert kinds[0] == "opened" and "opened" not in kinds[1:]
        assert "resolved" not in kinds[:-1]
        finals.append(kinds[-1])
    # db+api and ledger resolve; the recurrence at minute 30 is still firing.
    assert sorted(finals) == ["opened", "resolved", "resolved"]


def test_replay_and_restart_give_the_same_answers() -> None:
    straight = engine()
    expected = [c for batch in _scenario() for c in straight.process(batch)]
    expected += straight.advance(m(60))
    again = engine()
    replayed = [c for batch in _scenario() for c in again.process(batch)]
    replayed += again.advance(m(60))
    assert _stream(replayed) == _stream(expected)

    store = MemoryCorrelationStore()
    first = engine(store)
    batches = _scenario()
    got = [c for batch in batches[:2] for c in first.process(batch)]
    first.save()
    doc = orjson.loads(store.state or b"{}")
    assert doc["version"] == 1  # plain, versioned JSON
    second = engine(store)
    assert second.restore()
    got += [c for batch in batches[2:] for c in second.process(batch)]
    got += second.advance(m(60))
    assert _stream(got) == _stream(expected)


def test_work_per_signal_does_not_grow_with_incident_size() -> None:
    calls: list[int] = []

    class CountingLinker:
        def __init__(self, inner: EvidenceLinker) -> None:
            self.inner = inner

        def link(self, signal: Signal, incident: IncidentState, at: datetime) -> Link | None:
            calls.append(len(incident.types))
            return self.inner.link(signal, incident, at)

    def factory(cfg: CorrelationConfig, topo: TopologyIndex,
                learned: CoOccurrenceModel) -> CountingLinker:
        return CountingLinker(EvidenceLinker(cfg, topo, learned))

    eng = CorrelationEngine(EngineConfig(correlation=CorrelationConfig(max_profile_types=64)),
                            ENTITIES, RELATIONS, linker=factory)
    n = 2000
    batch = [Event(source="am", name=f"Check{i}", entity=("api", "web", "db")[i % 3],
                   severity="error", starts_at=T0 + timedelta(milliseconds=50 * i))
             for i in range(n)]
    eng.process(batch)
    (inc,) = eng.incidents()
    assert inc.signal_count == n
    # One link question per newcomer (one active incident), each against a bounded profile.
    assert len(calls) == n - 1
    assert max(calls) <= 64


def test_anomaly_signals_are_named_in_words() -> None:
    eng = engine()
    eng.process([], [Anomaly(kind="metric", detector="ensemble", entity="cache", subject="s1",
                             ts=m(0.5), direction="up", summary="memory up",
                             evidence={"metric": "memory_usage_bytes"}),
                     Anomaly(kind="log_new_template", detector="new_template", entity="cache",
                             subject="T1", ts=m(0.6), summary="new template")])
    (inc,) = eng.incidents()
    assert sorted(mem.signal.name for mem in eng.members(inc.id)) == [
        "memory_usage_bytes up", "new log line"]
    assert inc.title.startswith(("memory_usage_bytes up on cache", "new log line on cache"))


def test_error_level_log_anomaly_opens_an_incident_alone() -> None:
    # min_signals is 2 by default; an error-level signal opens on its own, and an
    # anomaly about error-level log lines is one.
    def new_template(entity: str, level: str, minute: float) -> Anomaly:
        return Anomaly(kind="log_new_template", detector="new_template", entity=entity,
                       subject=f"T-{entity}", ts=m(minute), summary="new template",
                       evidence={"level": level})

    eng = engine()
    eng.process([], [new_template("api", "warning", 0.5)])
    assert [i for i in eng.incidents() if i.status.value == "open"] == []
    eng.process([], [new_template("db", "error", 30)])
    opened = [i for i in eng.incidents() if i.status.value == "open"]
    assert [(i.entities, i.severity.value) for i in opened] == [(["db"], "error")]


def test_log_anomaly_names_carry_their_level() -> None:
    from opscope.analyze.correlate.dedup import anomaly_name

    def named(kind: str, **evidence: object) -> str:
        return anomaly_name(Anomaly(kind=kind, ts=m(0), evidence=evidence))

    assert named("log_new_template", level="error") == "new error log line"
    assert named("log_level_surge", level="warning") == "warning log surge"
    assert named("log_session") == "abnormal sessions"
    assert named("something_else") == "something_else"
