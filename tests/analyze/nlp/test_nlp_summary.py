"""Incident summaries: every sentence from a field, nothing said that is not recorded."""

from __future__ import annotations

from datetime import timedelta

from nlp_kit import T0, record

from opscope.analyze.nlp.record import IncidentRecord
from opscope.analyze.nlp.summary import listing, summarize
from opscope.model.events import Severity
from opscope.model.incident import IncidentStatus
from opscope.model.records import Change


def test_summary_of_a_resolved_incident_states_its_fields() -> None:
    rec = record("inc-1", [("HighErrorRate", "checkout"), ("HighErrorRate", "web"),
                           ("ConnectionPoolExhausted", "payments-db")],
                 anomalies=[("error log surge", "checkout")],
                 root=("payments-db", "payments-db/db_connections"), impact=["web"],
                 resolved_by="alice", tickets=["OPS-7"])
    deploy = Change(entity="payments-db", kind="deploy", version="v42", author="bob",
                    ts=T0 - timedelta(minutes=12))
    elsewhere = Change(entity="search", kind="deploy", ts=T0 - timedelta(minutes=5))
    summary = summarize(rec, [deploy, elsewhere])
    text = summary.text
    assert text.startswith("A warning incident on checkout, payments-db and web, affecting "
                           "the user-facing web.")
    assert "resolved by alice at 2026-04-01 08:20 UTC, 20 minutes later" in text
    assert "3 alerts (HighErrorRate x2 and ConnectionPoolExhausted)" in text
    assert "1 anomaly (error log surge)" in text and "and 1 anomaly" in text
    assert ("The most likely cause is payments-db (payments-db/db_connections): payments-db "
            "moved first and its callers followed.") in text
    assert "Evidence: payments-db/db_connections rose 8 sigma." in text
    assert "deploy of payments-db v42 by bob at 2026-04-01 07:48 UTC (12 minutes before it " \
           "opened)" in text
    assert "search" not in text
    assert "Tickets OPS-7." in text
    assert all(s.sources for s in summary.sentences)


def test_wording_follows_the_fields() -> None:
    rec = record("inc-5", [("JobFailed", "batch")], anomalies=[("log surge", "batch")] * 2,
                 root=("batch", "batch/exit"))
    rec = IncidentRecord.of(rec.incident.model_copy(update={"severity": Severity.ERROR}),
                            rec.members, (), [h.model_copy(update={"reason": "Rank 1: it failed."})
                                              for h in rec.hypotheses])
    text = summarize(rec).text
    assert text.startswith("An error incident on batch.")
    assert "2 anomalies (log surge x2)" in text
    assert "The most likely cause is batch (batch/exit): it failed." in text


def test_absent_fields_are_left_out() -> None:
    rec = record("inc-2", [("HighLatency", "web")], status=IncidentStatus.OPEN)
    text = summarize(rec).text
    assert "user-facing" not in text and "cause" not in text and "change" not in text
    assert "It has been open since 2026-04-01 08:00 UTC" in text
    assert "1 still firing" in text and "Tickets" not in text
    acked = record("inc-3", [("HighLatency", "web")], status=IncidentStatus.OPEN,
                   acknowledged_by="carol")
    assert "acknowledged by carol" in summarize(acked).text


def test_a_resolve_without_an_operator_says_it_resolved_itself() -> None:
    text = summarize(record("inc-4", [("HighLatency", "web")])).text
    assert "20 minutes later, on its own once every signal was quiet." in text


def test_listing() -> None:
    assert listing([]) == "" and listing(["a"]) == "a" and listing(["a", "b"]) == "a and b"
    assert listing(list("abcdefg"), 3) == "a, b, c and 4 more"
