"""Re-grouping after the fact: a later signal moves the members it explains better."""

from __future__ import annotations

import pytest
from correlate_kit import T0, fire, m

from opscope.analyze.correlate import (
    CoOccurrenceModel,
    CorrelationConfig,
    CorrelationEngine,
    EngineConfig,
    EvidenceLinker,
    TopologyIndex,
)
from opscope.analyze.correlate.incident_state import IncidentState, MemberState
from opscope.model import Entity, Event, Relation
from opscope.model.incident import IncidentStatus, Signal, TimelineKind

# web calls user and checkout; checkout calls ship; api calls db; web and api run on host-a.
ENTITIES = [Entity(id="web", labels={"user_facing": "true"}), Entity(id="user"),
            Entity(id="checkout"), Entity(id="ship"), Entity(id="api"),
            Entity(id="db", kind="database"), Entity(id="host-a", kind="host")]
RELATIONS = [Relation(source="web", target="user"), Relation(source="web", target="checkout"),
             Relation(source="checkout", target="ship"), Relation(source="api", target="db"),
             Relation(source="web", target="host-a", kind="runs_on"),
             Relation(source="api", target="host-a", kind="runs_on")]




# Errors on user reach web; web's latency joins them (same entity) before the slow ship
# alerts; ship's latency then travels up through checkout to web.
SLOW_SHIP = [fire("HighErrorRate", "user", 0, "error"), fire("HighErrorRate", "web", 0.5),
             fire("HighLatency", "web", 1), fire("HighLatency", "ship", 1.5, "error"),
             fire("HighLatency", "checkout", 2)]
GREEDY = {frozenset({"HighErrorRate@user", "HighErrorRate@web", "HighLatency@web"}),
          frozenset({"HighLatency@ship", "HighLatency@checkout"})}
REGROUPED = {frozenset({"HighErrorRate@user", "HighErrorRate@web"}),
             frozenset({"HighLatency@ship", "HighLatency@web", "HighLatency@checkout"})}
# The same, but ship alerts a minute and a half after web's latency joined the errors:
# too late to say that it caused what was already there.
SHIP_LATER = [*SLOW_SHIP[:3], fire("HighLatency", "ship", 2.5, "error"),
              fire("HighLatency", "checkout", 3)]
# db is slow and api's latency joins it as another symptom; then web fails and the host
# both run on alerts: api's latency goes with the trouble of its own host.
HOST_LATE = [fire("DatastoreLatencyHigh", "db", 0, "error"), fire("HighLatency", "api", 0.5),
             fire("HighErrorRate", "web", 0.75, "error"), fire("HostPacketLoss", "host-a", 1)]

REGROUP_CASES = [
    ("a cause alerting after its symptom takes the symptom along", {}, SLOW_SHIP, REGROUPED),
    ("a symptom placed long before its possible cause alerts stays", {}, SHIP_LATER, GREEDY),
    ("a member placed regroup_seconds or more before stays", {"regroup_seconds": 30},
     SLOW_SHIP, GREEDY),
    ("regroup_seconds 0 turns re-grouping off", {"regroup_seconds": 0}, SLOW_SHIP, GREEDY),
    ("max_regroup_moves 0 turns re-grouping off", {"max_regroup_moves": 0}, SLOW_SHIP, GREEDY),
    ("a host alerting late takes its resident's symptom", {}, HOST_LATE,
     {frozenset({"DatastoreLatencyHigh@db"}),
      frozenset({"HighErrorRate@web", "HostPacketLoss@host-a", "HighLatency@api"})}),
    ("a resident stays with the trouble of its own host", {},
     [fire("HostPacketLoss", "host-a", 0, "error"), fire("HighLatency", "api", 0.5),
      fire("HighLatency", "db", 1, "error")],
     {frozenset({"HostPacketLoss@host-a", "HighLatency@api"}), frozenset({"HighLatency@db"})}),
    ("an incident's root stays (a cause past the grace period is a new problem)", {},
     [fire("HighLatency", "checkout", 0, "error"), fire("HighLatency", "ship", 3.5, "error")],
     {frozenset({"HighLatency@checkout"}), frozenset({"HighLatency@ship"})}),
    ("a group that has not opened claims nothing", {"min_signals": 3},
     [*HOST_LATE[:2], fire("HighErrorRate", "web", 0.75), HOST_LATE[3]],
     {frozenset({"DatastoreLatencyHigh@db", "HighLatency@api"})}),
]


def replay(events: list[Event], correlation: dict[str, object] | None = None,
           ) -> CorrelationEngine:
    config = EngineConfig(correlation=CorrelationConfig.model_validate(correlation or {}))
    eng = CorrelationEngine(config, ENTITIES, RELATIONS)
    for ev in events:
        eng.process([ev], now=ev.starts_at)
    return eng


def groups(eng: CorrelationEngine) -> set[frozenset[str]]:
    return {frozenset(m.signal.type_key for m in eng.members(inc.id))
            for inc in eng.incidents() if inc.status is IncidentStatus.OPEN}


@pytest.mark.parametrize(("case", "correlation", "events", "expected"), REGROUP_CASES,
                         ids=[c[0] for c in REGROUP_CASES])
def test_regrouping(case: str, correlation: dict[str, object], events: list[Event],
                    expected: set[frozenset[str]]) -> None:
    assert groups(replay(events, correlation)) == expected


def test_a_move_is_recorded_in_both_timelines() -> None:
    eng = replay(SLOW_SHIP[:3])
    [first] = eng.incidents()
    changes = []
    for ev in SLOW_SHIP[3:]:
        changes += eng.process([ev], now=ev.starts_at)
    moved = [t for c in changes for t in c.timeline if t.data.get("automatic")]
    src = [t for t in moved if t.incident_id == first.id]
    dst = [t for t in moved if t.incident_id != first.id]
    assert [t.kind for t in src] == [TimelineKind.SPLIT]
    assert [t.kind for t in dst] == [TimelineKind.SIGNAL_ADDED]
    assert "HighLatency on web" in src[0].summary and "moved automatically to" in src[0].summary
    assert dst[0].data["moved_from"] == first.id
    assert src[0].data["moved_to"] == dst[0].incident_id
    removed = [s for c in changes if c.incident.id == first.id for s in c.removed_signal_ids]
    assert removed == src[0].data["signal_ids"]
    [member] = [x for x in eng.members(dst[0].incident_id) if x.signal.type_key ==
                "HighLatency@web"]
    assert member.reason.startswith(f"moved from {first.id}")
    assert member.joined_at == m(1)  # it joined the correlation then; it only moved later


def test_an_operators_merge_is_never_undone() -> None:
    # The operator merges another incident into the first one before ship alerts: web's
    # latency stays where the operator saw it. (Feedback weight 0: the merge teaches the
    # learned links nothing, so only the operator's mark on the incident keeps it.)
    eng = replay([fire("DatastoreLatencyHigh", "db", 0.2, "error"), *SLOW_SHIP[:3]],
                 {"feedback_weight": 0})
    [first] = [inc for inc in eng.incidents() if "user" in inc.entities]
    [other] = [inc for inc in eng.incidents() if inc.id != first.id]
    eng.merge(first.id, [other.id], m(1.2), actor="ops")
    for ev in SLOW_SHIP[3:]:
        eng.process([ev], now=ev.starts_at)
    assert groups(eng) == {
        frozenset({"DatastoreLatencyHigh@db", "HighErrorRate@user", "HighErrorRate@web",
                   "HighLatency@web"}),
        frozenset({"HighLatency@ship", "HighLatency@checkout"})}
    assert not any(t.data.get("automatic") for c in eng.correlator.drain() for t in c.timeline)


def test_a_common_cause_does_not_merge_what_an_operator_split() -> None:
    eng = replay([fire("HighErrorRate", "web", 0, "error"), fire("HighLatency", "web", 0.2),
                  fire("HighErrorRate", "api", 0.5, "error")])
    [web] = [inc for inc in eng.incidents() if "web" in inc.entities]
    latency = [x.signal.id for x in eng.members(web.id) if x.signal.name == "HighLatency"]
    split_off = eng.split(web.id, latency, m(0.7), actor="ops")
    eng.process([fire("HostPacketLoss", "host-a", 1, "error")], now=m(1))
    # The host below web and api merges what it explains, but not the operator's split:
    # it joins one side (a new signal may) and takes api's incident along, not the other.
    assert eng.incident_of(latency[0]) == split_off.id
    kept = [eng.get(web.id), eng.get(split_off.id)]
    assert [inc.status if inc else None for inc in kept] == [IncidentStatus.OPEN] * 2
    assert len(groups(eng)) == 2
    assert {"HighErrorRate@api", "HostPacketLoss@host-a"} <= set().union(*groups(eng))


def test_state_keeps_pins_and_moves() -> None:
    signal = Signal(id="s1", source="am", fingerprint="f1", name="HighLatency", entity="web",
                    starts_at=T0, last_seen=T0)
    inc = IncidentState(id="inc-1", opened_at=T0, updated_at=T0, pinned=True)
    inc.members["s1"] = MemberState(signal, T0, 0.5, "moved from inc-0", moves=1)
    copy = IncidentState.from_json(inc.to_json(), 16)
    assert copy.pinned and copy.members["s1"].moves == 1
    older = inc.to_json()  # saved before re-grouping existed
    del older["pinned"]
    del older["members"][0]["moves"]
    copy = IncidentState.from_json(older, 16)
    assert not copy.pinned and copy.members["s1"].moves == 0


def test_a_hosts_trouble_counts_as_its_residents_own() -> None:
    config = CorrelationConfig()
    topology = TopologyIndex(ENTITIES, RELATIONS, config.max_hops)
    linker = EvidenceLinker(config, topology, CoOccurrenceModel())

    def incident(name: str, entity: str, status: IncidentStatus) -> IncidentState:
        sig = Signal(id=f"{name}@{entity}", source="am", fingerprint=name, name=name,
                     entity=entity, starts_at=T0, last_seen=T0)
        inc = IncidentState(id=f"inc-{entity}", opened_at=T0, updated_at=T0, status=status)
        inc.count_in(MemberState(sig, T0, 1.0, "first signal"), 16)
        inc.touch(T0)
        inc.roots = topology.roots(inc.entities)
        return inc

    def link(name: str, entity: str, status: IncidentStatus) -> tuple[float, str]:
        slow = Signal(id="slow", source="am", fingerprint="slow", name="Slow", entity="api",
                      starts_at=T0, last_seen=T0)
        found = linker.link(slow, incident(name, entity, status), T0)
        assert found is not None
        return found.score, found.reason

    w, other, span = config.weights.topology, config.other_symptom_factor, config.max_hops + 1
    # As the entity's own other symptom (distance 0), not as a dependency's one hop away;
    # a pending host warning is not yet evidence enough for that.
    assert link("PacketLoss", "host-a", IncidentStatus.OPEN) == (
        pytest.approx(w * other), "api runs on host-a, other symptom")
    assert link("PacketLoss", "host-a", IncidentStatus.PENDING) == (
        pytest.approx(w * other * (1 - 1 / span)),
        "api depends on host-a (1 hops), other symptom")
    assert link("Overload", "db", IncidentStatus.OPEN) == (
        pytest.approx(w * other * (1 - 1 / span)), "api depends on db (1 hops), other symptom")
