"""Operators' verdicts on anomalies, and single anomalies read by id."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from store_backends import AnyStore
from store_clock import T0

from opscope.model import Anomaly, AnomalyVerdict, Verdict
from opscope.store.ports import RecordQuery


def verdict(anomaly_id: str, minutes: int, kind: Verdict = Verdict.FALSE_ALARM,
            actor: str = "", note: str = "") -> AnomalyVerdict:
    return AnomalyVerdict(anomaly_id=anomaly_id, verdict=kind,
                          ts=T0 + timedelta(minutes=minutes), actor=actor, note=note)


def test_get_anomaly_is_the_row_a_query_returns(store: AnyStore) -> None:
    store.append_anomalies([
        Anomaly(id="a-1", kind="metric", detector="robust_z", entity="checkout",
                subject="s1", ts=T0, score=6.5, value=float("nan"), expected=1.0,
                direction="up", evidence={"window": [1, 2]}),
        Anomaly(id="a-2", kind="log_new_template", subject="t-9", ts=T0, summary="new"),
    ])
    row = store.get_anomaly("a-1")
    [listed] = store.query_anomalies(RecordQuery(kind="metric")).items
    assert row == listed
    assert row["ts"] == "2024-03-01T12:00:00Z" and row["value"] is None
    assert row["evidence"] == {"window": [1, 2]}
    assert store.get_anomaly("missing") is None


def test_verdicts_are_kept_newest_first(store: AnyStore) -> None:
    store.record_verdict(verdict("a-1", 0, actor="ana", note="noisy \x00 probe"))
    store.record_verdict(verdict("a-1", 10, Verdict.CONFIRMED, actor="bo", note="real"))
    store.record_verdict(verdict("a-1", 5, actor="cy"))  # given earlier, recorded later
    got = store.anomaly_verdicts(["a-1"])
    assert list(got) == ["a-1"]
    assert [(v["ts"], v["verdict"], v["actor"]) for v in got["a-1"]] == [
        ("2024-03-01T12:10:00Z", "confirmed", "bo"),
        ("2024-03-01T12:05:00Z", "false_alarm", "cy"),
        ("2024-03-01T12:00:00Z", "false_alarm", "ana"),
    ]
    assert got["a-1"][0] == {"anomaly_id": "a-1", "verdict": "confirmed",
                             "ts": "2024-03-01T12:10:00Z", "actor": "bo", "note": "real"}
    assert got["a-1"][2]["note"].startswith("noisy")


def test_verdicts_given_at_once_read_last_recorded_first(store: AnyStore) -> None:
    store.record_verdict(verdict("a-1", 0, Verdict.FALSE_ALARM))
    store.record_verdict(verdict("a-1", 0, Verdict.CONFIRMED))
    assert [v["verdict"] for v in store.anomaly_verdicts(["a-1"])["a-1"]] == [
        "confirmed", "false_alarm"]


def test_verdicts_of_several_anomalies_leave_out_those_without(store: AnyStore) -> None:
    store.record_verdict(verdict("a-1", 0))
    store.record_verdict(verdict("a-2", 1, Verdict.CONFIRMED))
    store.record_verdict(verdict("a-2", 2))
    store.record_verdict(verdict("a-3", 3))
    got = store.anomaly_verdicts(["a-2", "a-1", "unknown", "a-2"])
    assert sorted(got) == ["a-1", "a-2"]
    assert [v["verdict"] for v in got["a-2"]] == ["false_alarm", "confirmed"]
    assert [v["anomaly_id"] for v in got["a-1"]] == ["a-1"]
    assert store.anomaly_verdicts([]) == {}
    assert store.anomaly_verdicts(["unknown"]) == {}


def test_verdict_times_are_stored_in_utc(store: AnyStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    store.record_verdict(AnomalyVerdict(anomaly_id="a-1", verdict=Verdict.CONFIRMED,
                                        ts=datetime(2024, 3, 1, 14, 0, tzinfo=plus_two)))
    assert store.anomaly_verdicts(["a-1"])["a-1"][0]["ts"] == "2024-03-01T12:00:00Z"
