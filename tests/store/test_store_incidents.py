"""Incidents in both stores: change stream, filters and paging, detail, rankings,
actions, silences, engine state, and what root-cause ranking reads."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from store_backends import AnyStore

from opscope.errors import ValidationFailed
from opscope.model import Anomaly, Change, Entity, MetricSample, Relation
from opscope.model.events import Severity
from opscope.model.hypothesis import Evidence, Hypothesis
from opscope.model.incident import (
    ChangeKind,
    Feedback,
    FeedbackKind,
    Incident,
    IncidentChange,
    IncidentMember,
    IncidentStatus,
    Matcher,
    Mute,
    Signal,
    Silence,
    TimelineEntry,
    TimelineKind,
)
from opscope.store.ports import IncidentQuery, TimeRange

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def incident(n: int, status: IncidentStatus = IncidentStatus.OPEN,
             severity: Severity = Severity.WARNING, entities: tuple[str, ...] = ("api",)
             ) -> Incident:
    return Incident(id=f"inc-{n}", status=status, severity=severity, opened_at=at(n),
                    updated_at=at(n), entities=list(entities), title=f"incident {n}")


def member(inc_id: str, signal: str, entity: str, muted: bool = False) -> IncidentMember:
    sig = Signal(id=signal, name="HighLatency", entity=entity, starts_at=T0, last_seen=T0)
    return IncidentMember(incident_id=inc_id, signal=sig, joined_at=T0, reason="test",
                          muted_by=[Mute(kind="silence", id="s1")] if muted else [])


def change(seq: int, inc: Incident, members: list[IncidentMember] | None = None,
           removed: list[str] | None = None, kind: ChangeKind = ChangeKind.UPDATED
           ) -> IncidentChange:
    return IncidentChange(
        seq=seq, kind=kind, ts=inc.updated_at, incident=inc, members=members or [],
        removed_signal_ids=removed or [],
        timeline=[TimelineEntry(incident_id=inc.id, ts=inc.updated_at,
                                kind=TimelineKind.SIGNAL_ADDED, summary=f"change {seq}")])


def test_the_change_stream_upserts_incidents_and_members(store: AnyStore) -> None:
    inc = incident(1)
    store.write_changes([
        change(0, inc, [member(inc.id, "a", "api"), member(inc.id, "b", "db", muted=True)],
               kind=ChangeKind.OPENED),
        change(1, inc.model_copy(update={"entities": ["api", "db"]})),
    ])
    store.write_changes([change(2, inc.model_copy(update={"status": IncidentStatus.RESOLVED}),
                                removed=["a"])])
    row = store.get_incident(inc.id)
    assert row is not None
    assert row["status"] == "resolved"
    assert [m["signal"]["id"] for m in row["members"]] == ["b"]
    assert row["members"][0]["muted_by"][0]["kind"] == "silence"  # suppressed, kept
    assert [t["summary"] for t in row["timeline"]] == ["change 0", "change 1", "change 2"]
    assert store.get_incident("inc-none") is None


def test_incident_list_filters_and_pages(store: AnyStore) -> None:
    store.write_changes([
        change(0, incident(1, severity=Severity.CRITICAL, entities=("db",))),
        change(1, incident(2, status=IncidentStatus.RESOLVED)),
        change(2, incident(3)),
    ])
    ids = [r["id"] for r in store.query_incidents(IncidentQuery()).items]
    assert ids == ["inc-3", "inc-2", "inc-1"]
    assert [r["id"] for r in store.query_incidents(IncidentQuery(status="open")).items] == \
        ["inc-3", "inc-1"]
    assert [r["id"] for r in store.query_incidents(
        IncidentQuery(severity=("critical",))).items] == ["inc-1"]
    assert [r["id"] for r in store.query_incidents(IncidentQuery(entity="db")).items] == \
        ["inc-1"]
    assert [r["id"] for r in store.query_incidents(
        IncidentQuery(time=TimeRange(at(2), at(3)))).items] == ["inc-2"]
    first = store.query_incidents(IncidentQuery(limit=2))
    assert [r["id"] for r in first.items] == ["inc-3", "inc-2"] and first.next_cursor
    rest = store.query_incidents(IncidentQuery(limit=2, cursor=first.next_cursor))
    assert [r["id"] for r in rest.items] == ["inc-1"] and rest.next_cursor is None
    with pytest.raises(ValidationFailed):
        store.query_incidents(IncidentQuery(status="bogus"))


def test_rankings_replace_each_other_and_show_in_list_and_detail(store: AnyStore) -> None:
    inc = incident(1)
    store.write_changes([change(0, inc)])
    first = [Hypothesis(entity="api", score=2.0, rank=1, reason="first guess")]
    store.write_hypotheses(inc.id, at(2), first)
    better = [Hypothesis(entity="db", score=3.0, rank=1, reason="db moved first",
                         evidence=[Evidence(kind="metric_shift", summary="latency rose",
                                            value=12.0)]),
              Hypothesis(entity="api", score=1.0, rank=2, reason="a symptom")]
    store.write_hypotheses(inc.id, at(3), better)
    row = store.get_incident(inc.id)
    assert row is not None
    assert [h["entity"] for h in row["hypotheses"]] == ["db", "api"]
    assert row["hypotheses"][0]["evidence"][0]["value"] == 12.0
    assert row["ranked_at"] == "2026-02-01T12:03:00Z"
    listed = store.query_incidents(IncidentQuery()).items[0]
    assert listed["top_hypothesis"]["entity"] == "db"


def test_actions_and_feedback_are_kept_per_incident(store: AnyStore) -> None:
    store.write_changes([change(0, incident(1)), change(1, incident(2))])
    store.record_incident_action("ack", "alice", ["inc-1"], at(5), {})
    store.write_feedback([Feedback(kind=FeedbackKind.MERGE, ts=at(6), actor="bob",
                                   incident_ids=["inc-1", "inc-2"],
                                   together=[["HighLatency@api"]])])
    row = store.get_incident("inc-1")
    assert row is not None
    assert [(a["action"], a["actor"]) for a in row["actions"]] == [("ack", "alice"),
                                                                   ("merge", "bob")]
    other = store.get_incident("inc-2")
    assert other is not None and [a["action"] for a in other["actions"]] == ["merge"]


def test_many_incidents_read_at_once_match_their_single_reads(store: AnyStore) -> None:
    inc1, inc2 = incident(1), incident(2)
    store.write_changes([change(0, inc1, [member(inc1.id, "am/a#1", "api")],
                                kind=ChangeKind.OPENED),
                         change(1, inc2, [member(inc2.id, "am/b#1", "db")],
                                kind=ChangeKind.OPENED), change(2, inc1)])
    store.write_hypotheses(inc2.id, at(3), [Hypothesis(entity="db", score=1.0, rank=1,
                                                       reason="db first")])
    store.record_incident_action("ack", "alice", ["inc-1", "inc-2"], at(4), {})
    many = store.get_incidents(["inc-2", "inc-1", "inc-none", "inc-1"])
    assert sorted(many) == ["inc-1", "inc-2"]
    for inc_id in ("inc-1", "inc-2"):
        assert many[inc_id] == store.get_incident(inc_id)
    lean = store.get_incidents(["inc-1"], members_limit=0, timeline_limit=0)["inc-1"]
    assert (lean["members"], lean["timeline"]) == ([], [])
    assert (lean["member_total"], lean["timeline_total"]) == (1, 2)
    assert store.get_incidents([]) == {}


def test_silences_and_engine_state(store: AnyStore) -> None:
    silence = Silence(id="s1", matchers=[Matcher(name="entity", value="db")],
                      starts_at=at(0), ends_at=at(60), created_by="ops")
    store.put_silence(silence)
    store.put_silence(silence.model_copy(update={"id": "s2", "ends_at": at(10)}))
    assert [s.id for s in store.list_silences()] == ["s1", "s2"]
    assert [s.id for s in store.list_silences(at(30))] == ["s1"]
    store.put_silence(silence.model_copy(update={"ends_at": at(20)}))  # expired early
    assert store.list_silences(at(30)) == []
    assert store.get_silence("s1") == silence.model_copy(update={"ends_at": at(20)})
    assert store.load_engine_state("correlation") is None
    store.save_engine_state("correlation", b'{"version": 1}')
    store.save_engine_state("correlation", b'{"version": 2}')
    assert store.load_engine_state("correlation") == b'{"version": 2}'


def test_what_root_cause_ranking_reads(store: AnyStore) -> None:
    store.append_samples([
        MetricSample(name="latency", labels={"service": "api", "quantile": "0.9"},
                     value=float(i), ts=at(i)) for i in range(5)
    ] + [MetricSample(name="latency", labels={"service": "web"}, value=math.nan, ts=at(1))])
    series = store.entity_series(["api", "web"], at(1), at(3))
    assert sorted((s.entity, s.metric) for s in series) == [
        ("api", "latency{quantile=0.9}"), ("web", "latency")]
    api = next(s for s in series if s.entity == "api")
    assert list(api.values) == [1.0, 2.0]
    assert api.ts[0] == at(1).timestamp()
    web = next(s for s in series if s.entity == "web")
    assert math.isnan(web.values[0])
    store.append_changes([Change(entity="api", ts=at(2), version="v2"),
                          Change(entity="db", ts=at(2))])
    assert [c.version for c in store.changes_between(["api"], at(0), at(5))] == ["v2"]
    store.append_anomalies([Anomaly(kind="metric", entity="api", ts=at(2), score=4.0)])
    found = store.anomalies_between(["api"], at(0), at(5))
    assert [(a.kind, a.score) for a in found] == [("metric", 4.0)]
    assert store.anomalies_between(["api"], at(3), at(5)) == []
    store.upsert_topology([Entity(id="api"), Entity(id="db", kind="database")],
                          [Relation(source="api", target="db")])
    entities, relations = store.topology_models()
    assert [e.id for e in entities] == ["api", "db"]
    assert relations == [Relation(source="api", target="db")]


def test_a_storm_incident_detail_is_capped_and_its_members_paged(store: AnyStore) -> None:
    inc = incident(1)
    members = [member(inc.id, f"am/fp{i:03d}#1", "api").model_copy(
        update={"joined_at": at(i / 10)}) for i in range(25)]
    store.write_changes([change(1, inc, members, kind=ChangeKind.OPENED)]
                        + [change(2 + i, inc) for i in range(24)])
    row = store.get_incident(inc.id, members_limit=10, timeline_limit=5)
    assert row is not None
    assert (row["member_total"], row["timeline_total"]) == (25, 25)
    assert [m["signal"]["id"] for m in row["members"]] == [f"am/fp{i:03d}#1" for i in range(10)]
    assert [t["summary"] for t in row["timeline"]] == [f"change {n}" for n in range(1, 6)]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = store.query_incident_members(inc.id, 7, cursor)
        seen += [m["signal"]["id"] for m in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"am/fp{i:03d}#1" for i in reversed(range(25))]
    timeline = store.query_incident_timeline(inc.id, 30, None)
    assert len(timeline.items) == 25 and timeline.next_cursor is None
    assert store.query_incident_members("inc-none", 5, None).items == []


def test_members_of_many_incidents_come_in_one_read(store: AnyStore) -> None:
    one, two = incident(1), incident(2)
    store.write_changes([
        change(1, one, [member(one.id, f"s{i}", "api").model_copy(
            update={"joined_at": at(i)}) for i in range(3)], kind=ChangeKind.OPENED),
        change(2, two, [member(two.id, "t0", "db")], kind=ChangeKind.OPENED)])
    found = store.incident_members([one.id, two.id, "inc-none"])
    assert [m["signal"]["id"] for m in found[one.id]] == ["s0", "s1", "s2"]
    assert [m["signal"]["id"] for m in found[two.id]] == ["t0"]
    assert found["inc-none"] == [] and store.incident_members([]) == {}
