"""Similar past incidents: what ranks first, why, and how the index stays current."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from nlp_kit import record

from opscope.analyze.nlp.record import IncidentRecord
from opscope.analyze.nlp.similar import (
    IncidentLibrary,
    SimilarityConfig,
    SimilarityIndex,
    incident_tokens,
    ranking_confidence,
)
from opscope.errors import NotFound
from opscope.model.incident import IncidentStatus, Mute


def history() -> list[IncidentRecord]:
    return [
        record("pool-a", [("ConnectionPoolExhausted", "payments-db-1"),
                          ("HighErrorRate", "checkout"), ("HighErrorRate", "web")],
               root=("payments-db-1", "payments-db-1/db_connections"), impact=["web"],
               resolved_by="alice", tickets=["OPS-1"]),
        record("cpu-a", [("HighCPU", "search-1"), ("HighLatency", "search-1"),
                         ("HighLatency", "web")],
               root=("search-1", "search-1/cpu_usage"), impact=["web"], hour=2),
        record("disk-a", [("DiskSpaceLow", "host-3")], root=("host-3", "host-3/disk_free"),
               hour=4),
        record("noise", [("HighLatency", "web")], hour=5),
    ]


def test_same_fault_on_another_replica_ranks_first_with_reasons() -> None:
    index = SimilarityIndex()
    for rec in history():
        index.add(rec)
    query = record("pool-b", [("ConnectionPoolExhausted", "payments-db-2"),
                              ("HighErrorRate", "checkout"), ("HighLatency", "web")],
                   root=("payments-db-2", "payments-db-2/db_connections"), hour=9,
                   status=IncidentStatus.OPEN)
    found = index.similar(query, limit=3)
    assert found[0].incident_id == "pool-a"
    assert 0 < found[0].score <= 1 and found[0].score > found[1].score
    texts = [s.text for s in found[0].shared]
    assert "ConnectionPoolExhausted on payments-db" in texts
    assert "root cause payments-db db_connections" in texts
    assert found[0].explanation.startswith("both: ")
    assert found[0].structural > 0 and found[1].structural == 0
    outcome = found[0].to_json()["outcome"]
    assert outcome["resolved_by"] == "alice" and outcome["duration_s"] == 1200
    assert outcome["ticket_ids"] == ["OPS-1"] and "by alice after 20 min" in outcome["text"]


def test_excludes_itself_and_incidents_merged_into_it() -> None:
    index = SimilarityIndex()
    recs = history()
    merged = record("pool-c", [("ConnectionPoolExhausted", "payments-db-1")],
                    status=IncidentStatus.MERGED, merged_into="pool-a")
    for rec in [*recs, merged]:
        index.add(rec)
    ids = [r.incident_id for r in index.similar(recs[0], limit=10)]
    assert "pool-a" not in ids and "pool-c" not in ids


def test_unrelated_incident_finds_nothing_above_the_floor() -> None:
    index = SimilarityIndex(SimilarityConfig(min_score=0.05))
    for rec in history():
        index.add(rec)
    lonely = record("q", [("CertificateExpiring", "edge-proxy")], hour=9)
    assert index.similar(lonely) == []


def test_index_updates_incrementally() -> None:
    index = SimilarityIndex()
    recs = history()
    for rec in recs:
        index.add(rec)
    index.add(recs[0])  # replacing keeps one copy and the same document frequencies
    assert len(index) == 4
    before = index.similar(recs[1], limit=5)
    index.remove("noise")
    assert "noise" not in index and len(index) == 3
    after = index.similar(recs[1], limit=5)
    assert "noise" in {r.incident_id for r in before}
    assert "noise" not in {r.incident_id for r in after}


def test_muted_members_and_volatile_labels_make_no_tokens() -> None:
    rec = record("l", [("HighCPU", "db-1"), ("Watchdog", "db-1")],
                 labels={"instance": "10.0.0.5:9100", "team": "storage"})
    muted = rec.members[1].model_copy(update={"muted_by": [Mute(kind="silence")]})
    rec = IncidentRecord.of(rec.incident, [rec.members[0], muted])
    tokens = {field for field, _ in incident_tokens(rec)}
    values = {value for _, value in incident_tokens(rec)}
    assert "label" in tokens and "team=storage" in values and "HighCPU@db" in values
    assert not any(v.startswith("instance=") for v in values)
    assert not any("Watchdog" in v for v in values)


def _row(rec: IncidentRecord) -> dict[str, Any]:
    return {**rec.incident.model_dump(mode="json"),
            "members": [m.model_dump(mode="json") for m in rec.members],
            "hypotheses": [h.model_dump(mode="json") for h in rec.hypotheses],
            "top_hypothesis": rec.hypotheses[0].model_dump(mode="json")
            if rec.hypotheses else None}


def test_library_loads_only_new_or_changed_incidents() -> None:
    rows = {r.id: _row(r) for r in history()}
    loads: list[str] = []

    def load(ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        loads.extend(ids)
        return {i: rows[i] for i in ids if i in rows}

    library = IncidentLibrary(lambda n: list(rows.values())[:n], load,
                              SimilarityConfig(max_incidents=3))
    assert library.refresh() == 3 and len(library.index) == 3
    assert library.refresh() == 0
    rows["pool-a"]["updated_at"] = "2026-04-02T00:00:00+00:00"
    assert library.refresh() == 1 and loads[-1] == "pool-a"
    # An incident older than the indexed ones can still ask.
    found = library.similar("noise", limit=2)
    assert [r.incident_id for r in found][:1] == ["cpu-a"]
    with pytest.raises(NotFound):
        library.similar("missing")


def _ranked(rec: IncidentRecord, scores: list[float]) -> IncidentRecord:
    hyps = [h.model_copy(update={"score": s}) for h, s in zip(rec.hypotheses, scores,
                                                              strict=True)]
    return IncidentRecord.of(rec.incident, rec.members, (), hyps)


@pytest.mark.parametrize(("scores", "confidence"), [
    ([4.0, 1.0], 0.75), ([2.0, 2.0], 0.0), ([0.0, 0.0], 0.0), ([3.0], 1.0), ([], 0.0),
])
def test_ranking_confidence_is_the_margin_of_the_first_cause(scores: list[float],
                                                             confidence: float) -> None:
    rec = record("r", [("HighCPU", "db-1")], root=("db-1", "db-1/cpu"))
    rec = IncidentRecord.of(rec.incident, rec.members, (), rec.hypotheses[:len(scores)])
    assert ranking_confidence(_ranked(rec, scores)) == pytest.approx(confidence)


def test_a_tied_ranking_lends_no_root_cause_similarity() -> None:
    # Two different faults the ranker pinned on the same entity, each by a whisker.
    cpu = record("cpu", [("HighCPU", "search")], root=("cache", "cache/hits"), hour=1)
    disk = record("disk", [("DiskSpaceLow", "host-3")], root=("cache", "cache/hits"), hour=2)
    index = SimilarityIndex()
    index.add(_ranked(disk, [2.0, 2.0]))
    assert index.similar(_ranked(cpu, [2.0, 2.0])) == []
    confident = SimilarityIndex()
    confident.add(_ranked(disk, [4.0, 1.0]))
    # A root cause counts in proportion to its rarity: here one incident in two has it.
    confident.add(record("other", [("JobFailed", "batch")], root=("batch", "batch/exit")))
    found = confident.similar(_ranked(cpu, [4.0, 1.0]))
    assert [r.incident_id for r in found] == ["disk"] and found[0].structural > 0
