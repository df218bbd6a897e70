"""Typed incident records and the entity and series names features are built from."""

from __future__ import annotations

import pytest
from nlp_kit import record

from opscope.analyze.nlp.record import IncidentRecord, entity_group, metric_of


@pytest.mark.parametrize(("entity", "group"), [
    ("db-1", "db"), ("payments-db-12", "payments-db"), ("worker_3", "worker"),
    ("checkout-7d9f8b6c5-x2k4q", "checkout"), ("api:8080", "api"), ("cache.2", "cache"),
    ("checkout", "checkout"), ("s3", "s3"), ("v2-api", "v2-api"), ("orders-queue", "orders-queue"),
    ("10.0.0.1", "10.0.0.1"), ("Host-2", "host"),
])
def test_entity_group_strips_replica_suffixes_only(entity: str, group: str) -> None:
    assert entity_group(entity) == group


@pytest.mark.parametrize(("series", "metric"), [
    ("db-1/cpu_usage{mode=user}", "cpu_usage"), ("checkout/http_errors_ratio", "http_errors_ratio"),
    ("latency_seconds", "latency_seconds"),
])
def test_metric_of_a_ranking_series(series: str, metric: str) -> None:
    assert metric_of(series) == metric


def test_record_round_trips_through_a_stored_row() -> None:
    rec = record("inc-1", [("HighCPU", "db-1")], root=("db-1", "db-1/cpu_usage"),
                 resolved_by="alice")
    row = {**rec.incident.model_dump(mode="json"),
           "members": [m.model_dump(mode="json") for m in rec.members],
           "timeline": [], "hypotheses": [h.model_dump(mode="json") for h in rec.hypotheses],
           "ranked_at": "2026-04-01T08:01:00+00:00",
           "actions": [{"ts": a.ts.isoformat(), "action": a.action, "actor": a.actor,
                        "detail": {}} for a in rec.actions]}
    back = IncidentRecord.from_row(row)
    assert back.incident == rec.incident and list(back.members) == list(rec.members)
    assert back.top is not None and back.top.entity == "db-1"
    assert [a.actor for a in back.actions] == ["alice"] and back.ranked_at is not None
    listed = IncidentRecord.from_row({**rec.incident.model_dump(mode="json"),
                                      "top_hypothesis": row["hypotheses"][0]})
    assert listed.top is not None and listed.top.signal == "db-1/cpu_usage"
