"""Root-cause ranking on small hand-built systems whose answer is known."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from opscope.analyze.rca import MetricSeries, RcaConfig, RcaInputs, rank_root_causes
from opscope.model.anomaly import Anomaly
from opscope.model.hypothesis import Hypothesis
from opscope.model.records import Change
from opscope.model.topology import Relation, RelationKind

STEP = 10.0
T0 = 1_000.0
FAULT = T0 + 30 * STEP
NOISE = np.array([0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 0.0, 1.0, -1.0])


def _series(entity: str, level: float, jump: float, jump_at: int, n: int = 45) -> MetricSeries:
    """A latency series: ``level`` plus small noise, raised by ``jump`` from row ``jump_at``."""
    times = T0 + STEP * np.arange(n, dtype=np.float64)
    values = level + NOISE[np.arange(n) % NOISE.size] * (0.01 * level)
    values[jump_at:] += jump
    return MetricSeries.of(f"{entity}|latency", entity, "latency", times, values)


def _chain(db_jump: float = 5.0, db_at: int = 30, api_at: int = 31, web_at: int = 32,
           **extra: object) -> RcaInputs:
    """web -> api -> db, plus an idle cache called by web. Fault in db."""
    series = [
        _series("web", 100.0, 40.0, web_at),
        _series("api", 50.0, 60.0, api_at),   # the symptom that moves most
        _series("db", 10.0, db_jump, db_at),
        _series("cache", 5.0, 0.0, 0),
    ]
    edges = [Relation(source="web", target="api"), Relation(source="api", target="db"),
             Relation(source="web", target="cache")]
    return RcaInputs(series=series, fault_time=FAULT, edges=edges,
                     target="web|latency", **extra)  # type: ignore[arg-type]


def _entities(hyps: list[Hypothesis]) -> list[str]:
    return [h.entity for h in hyps]


def test_upstream_cause_that_moved_first_outranks_its_symptoms() -> None:
    # db's own shift is the smallest in absolute terms, yet it moved first and both of
    # its dependants are anomalous after it: it explains them.
    hyps = rank_root_causes(_chain())
    assert _entities(hyps)[0] == "db"
    assert _entities(hyps)[-1] == "cache"
    assert [h.rank for h in hyps] == [1, 2, 3, 4]
    assert hyps[0].score > hyps[1].score


def test_dependant_that_moved_before_lends_no_support() -> None:
    # Here api went wrong well before db: db cannot have caused it, so db loses api's
    # support and api (which explains web) comes first.
    hyps = rank_root_causes(_chain(db_at=36, api_at=30, web_at=31))
    assert _entities(hyps)[0] == "api"


def test_without_topology_the_largest_shift_leads_and_co_movement_is_stated() -> None:
    inputs = _chain()
    bare = RcaInputs(series=inputs.series, fault_time=FAULT, topology_source="none")
    hyps = rank_root_causes(bare)
    # With no graph, order is the order of shifts: api moved most in robust sigmas.
    assert _entities(hyps)[0] == "api"
    kinds = {e.kind for e in hyps[0].evidence}
    assert "co_movement" in kinds
    learned = next(e for e in hyps[0].evidence if e.kind == "co_movement")
    assert "learned from co-movement" in learned.summary
    assert "topology" not in kinds


def test_recent_deploy_raises_an_entity() -> None:
    # Two independent leaves with the same shift: the one deployed just before the fault
    # wins, and the change shows up as evidence and in the reason.
    series = [_series("a", 10.0, 8.0, 30), _series("b", 10.0, 8.0, 30)]
    deploy = Change(entity="b", kind="deploy", version="v2",
                    ts=datetime.fromtimestamp(FAULT - 120, tz=UTC))
    plain = rank_root_causes(RcaInputs(series=series, fault_time=FAULT))
    with_change = rank_root_causes(RcaInputs(series=series, fault_time=FAULT, changes=[deploy]))
    assert _entities(plain)[0] == "a"  # tie broken by name without the change
    assert _entities(with_change)[0] == "b"
    top = with_change[0]
    assert any(e.kind == "change" and "v2" in e.summary for e in top.evidence)
    assert "changed shortly before" in top.reason


def test_old_change_is_not_a_suspect() -> None:
    series = [_series("a", 10.0, 8.0, 30), _series("b", 10.0, 8.0, 30)]
    old = Change(entity="b", ts=datetime.fromtimestamp(FAULT - 5 * 86_400, tz=UTC))
    hyps = rank_root_causes(RcaInputs(series=series, fault_time=FAULT, changes=[old]))
    assert _entities(hyps)[0] == "a"


def test_log_evidence_raises_an_entity() -> None:
    series = [_series("a", 10.0, 8.0, 30), _series("b", 10.0, 8.0, 30)]
    surge = Anomaly(kind="log_new_template", entity="b", subject="tpl-42", score=5.0,
                    ts=datetime.fromtimestamp(FAULT + 5, tz=UTC),
                    summary="new error template: connection refused to <*>")
    hyps = rank_root_causes(RcaInputs(series=series, fault_time=FAULT, anomalies=[surge]))
    assert hyps[0].entity == "b"
    assert any(e.kind == "log" and "connection refused" in e.summary for e in hyps[0].evidence)


def test_every_hypothesis_has_evidence_and_one_sentence_reason() -> None:
    hyps = rank_root_causes(_chain())
    top = hyps[0]
    assert top.signal == "db|latency"
    kinds = [e.kind for e in top.evidence]
    assert kinds[0] == "metric_shift"
    assert "topology" in kinds and "target_link" in kinds and "onset" in kinds
    for h in hyps:
        assert h.reason.startswith(f"Rank {h.rank}:")
        assert h.reason.endswith(".") and h.reason.count(". ") == 0
    # The idle entity says why it is last rather than pretending to evidence.
    assert "within the normal band" in hyps[-1].reason


def test_missing_values_and_unsorted_rows_give_the_same_answer() -> None:
    base = _chain()
    shuffled = []
    rng = np.random.default_rng(7)
    for s in base.series:
        order = rng.permutation(s.times.size)
        values = s.values.copy()
        values[[3, 17, 40]] = np.nan
        shuffled.append(MetricSeries.of(s.key, s.entity, s.metric, s.times[order], values[order]))
    inputs = RcaInputs(series=shuffled, fault_time=FAULT, edges=base.edges, target=base.target)
    assert _entities(rank_root_causes(inputs))[0] == "db"


def test_separate_reference_is_relevelled_on_the_pre_fault_points() -> None:
    # The reference was recorded at another time at another level: b sits 30 % higher now
    # than in the reference, before and after the fault. Only a moved; it must lead.
    n = 6
    times = T0 + STEP * np.arange(n, dtype=np.float64)
    a = MetricSeries.of("a", "a", "m", times, [10, 10, 10, 16, 16, 16])
    b = MetricSeries.of("b", "b", "m", times, [13, 13, 13, 13, 13, 13])
    ref_times = T0 + 86_400 * 30 + STEP * np.arange(50, dtype=np.float64)
    ref_vals = 10 + NOISE[np.arange(50) % NOISE.size] * 0.2
    reference = [MetricSeries.of("a", "a", "m", ref_times, ref_vals),
                 MetricSeries.of("b", "b", "m", ref_times, ref_vals)]
    inputs = RcaInputs(series=[a, b], fault_time=T0 + 3 * STEP, reference=reference)
    hyps = rank_root_causes(inputs)
    assert _entities(hyps) == ["a", "b"]
    assert hyps[1].score < 1e-2


def test_config_rejects_unknown_settings() -> None:
    with pytest.raises(ValueError):
        RcaConfig(bogus=1)  # type: ignore[call-arg]


def test_hypothesis_is_frozen() -> None:
    h = rank_root_causes(_chain())[0]
    with pytest.raises(ValueError):
        h.__setattr__("rank", 3)


def test_incident_without_normal_history_is_still_ranked() -> None:
    times = T0 + STEP * np.arange(4, dtype=np.float64)
    series = [MetricSeries.of("a", "a", "m", times, [10, 10, 11, 10]),
              MetricSeries.of("b", "b", "m", times, [10, 10, 30, 31])]
    hyps = rank_root_causes(RcaInputs(series=series, fault_time=T0 + 2 * STEP))
    assert _entities(hyps) == ["b", "a"]
    assert "little normal history" in hyps[0].evidence[0].summary
    unscored = rank_root_causes(RcaInputs(series=series, fault_time=T0 + 2 * STEP),
                                RcaConfig(relative_noise=0.0))
    assert all(h.score < 1e-2 for h in unscored)


@pytest.mark.parametrize(("moved", "first"), [({"a"}, "a"), ({"a", "b", "c"}, "host")])
def test_a_host_explains_its_residents_only_as_far_as_they_moved_together(
        moved: set[str], first: str) -> None:
    # a, b and c run on host; web calls a. The host moved with its residents in
    # ``moved`` and both it and a raised their own alarms (a resident running out of
    # memory gets the host's kernel to kill it). One resident of three moving points
    # at that resident; all of them moving at once points at the host they share.
    series = [_series(e, 50.0, 60.0 if e in moved | {"web", "host"} else 0.0, 30)
              for e in ("host", "a", "b", "c", "web")]
    edges = [Relation(source="web", target="a")] + [
        Relation(source=e, target="host", kind=RelationKind.RUNS_ON) for e in "abc"]
    alarms = [Anomaly(kind="alert", entity=e, ts=datetime.fromtimestamp(FAULT + 60, UTC))
              for e in ("a", "host")]
    hyps = rank_root_causes(RcaInputs(series=series, fault_time=FAULT, edges=edges,
                                      anomalies=alarms))
    assert _entities(hyps)[0] == first


def _queue_system(kind: RelationKind) -> RcaInputs:
    """shop -> queue <- mailer: mailer drains the queue; mailer slows down and the queue's
    backlog grows with it (the backlog moves more, in robust sigmas)."""
    series = [
        _series("mailer", 20.0, 8.0, 30),
        _series("queue", 10.0, 40.0, 30),
        _series("shop", 50.0, 0.0, 0),
    ]
    edges = [Relation(source="shop", target="queue", kind=RelationKind.DEPENDS_ON),
             Relation(source="mailer", target="queue", kind=kind)]
    return RcaInputs(series=series, fault_time=FAULT, edges=edges)


def test_a_slow_consumer_explains_its_queues_backlog() -> None:
    # Said as a plain dependency, the queue explains the mailer (a broken queue would);
    # said as what it is, a consumer draining the queue, the backlog is the mailer's doing.
    as_dependency = rank_root_causes(_queue_system(RelationKind.DEPENDS_ON))
    assert _entities(as_dependency)[0] == "queue"
    as_consumer = rank_root_causes(_queue_system(RelationKind.CONSUMES))
    assert _entities(as_consumer)[0] == "mailer"
    assert any(e.kind == "topology" and e.subject == "queue" for e in as_consumer[0].evidence)
