"""The similar-incidents harness: tie-aware rank metrics and scoring a labelled history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opscope.analyze.nlp.record import IncidentRecord
from opscope.eval.similar import Labelled, expected_rank_metrics, render_similar, score_history
from opscope.model.incident import Incident, IncidentMember, Signal

T0 = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(("scores", "relevant", "p1", "rr"), [
    ([0.9, 0.5, 0.1], [True, False, False], 1.0, 1.0),
    ([0.9, 0.5, 0.1], [False, False, True], 0.0, 1 / 3),
    ([0.5, 0.5], [True, False], 0.5, 0.75),          # a tie: half the time first
    ([0.0, 0.0, 0.0, 0.0], [True, False, False, False], 0.25, (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4),
    ([0.9, 0.2, 0.2, 0.2], [False, True, True, False], 0.0, 2 / 3 * 1 / 2 + 1 / 3 * 1 / 3),
    ([0.3], [False], 0.0, 0.0),
])
def test_expected_rank_metrics(scores: list[float], relevant: list[bool], p1: float,
                               rr: float) -> None:
    got = expected_rank_metrics(scores, relevant)
    assert got == pytest.approx((p1, rr))


def _incident(n: int, kind: str, root: str, signals: list[tuple[str, str]]) -> Labelled:
    opened = T0 + timedelta(hours=n)
    inc_id = f"inc-{n}"
    members = [IncidentMember(incident_id=inc_id, joined_at=opened, signal=Signal(
        id=f"{inc_id}/{i}", name=name, entity=entity, starts_at=opened, last_seen=opened))
        for i, (name, entity) in enumerate(signals)]
    inc = Incident(id=inc_id, opened_at=opened, updated_at=opened,
                   entities=sorted({e for _, e in signals}), root_candidates=[root])
    return Labelled(IncidentRecord.of(inc, members), f"f{n}", kind, root)


def test_score_history_beats_the_baselines_when_signals_tell_faults_apart() -> None:
    # Two kinds of fault on the same two services: entities alone cannot tell them apart,
    # the signals can.
    history = [
        _incident(0, "cpu", "a", [("HighCPU", "a"), ("HighLatency", "b")]),
        _incident(1, "errors", "a", [("HighErrorRate", "a"), ("HighErrorRate", "b")]),
        _incident(2, "cpu", "a", [("HighCPU", "a"), ("HighLatency", "b")]),
        _incident(3, "errors", "a", [("HighErrorRate", "a"), ("HighErrorRate", "b")]),
    ]
    report = score_history(history)
    methods = report["methods"]
    assert report["queries_same_kind"] == 4
    assert methods["tfidf"]["same_kind_precision_at_1"] == 1.0
    assert methods["entity_jaccard"]["same_kind_precision_at_1"] == pytest.approx(0.333, 0.01)
    assert methods["random"]["same_kind_precision_at_1"] == pytest.approx(0.333, 0.01)
    assert "tfidf" in render_similar(report)
