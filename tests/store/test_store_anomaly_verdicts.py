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


# --- false alarms after a cursor -------------------------------------------------------

def metric(anomaly_id: str, minutes: int, evidence: dict[str, object] | None = None
           ) -> Anomaly:
    return Anomaly(id=anomaly_id, kind="metric", detector="robust_z", entity="checkout",
                   subject=f"series-{anomaly_id}", ts=T0 + timedelta(minutes=minutes),
                   score=6.0, evidence=evidence or {})


def test_false_alarms_come_oldest_seq_first_joined_with_their_anomaly(
        store: AnyStore) -> None:
    store.append_anomalies([metric("a-1", 1), metric("a-2", 2)])
    store.record_verdict(verdict("a-2", 30))
    store.record_verdict(verdict("a-1", 10))  # given earlier, recorded later
    rows, cursor = store.false_alarms_after(0, 10)
    assert [r["anomaly_id"] for r in rows] == ["a-2", "a-1"]
    assert rows[0]["seq"] < rows[1]["seq"] == cursor
    assert rows[1] == {"seq": cursor, "anomaly_id": "a-1", "kind": "metric",
                       "subject": "series-a-1", "anomaly_ts": "2024-03-01T12:01:00Z",
                       "evidence": {}}


def test_confirmed_verdicts_are_left_out_but_move_the_cursor(store: AnyStore) -> None:
    store.append_anomalies([metric("a-1", 1), metric("a-2", 2)])
    store.record_verdict(verdict("a-1", 0))
    store.record_verdict(verdict("a-2", 1, Verdict.CONFIRMED))
    rows, cursor = store.false_alarms_after(0, 10)
    assert [r["anomaly_id"] for r in rows] == ["a-1"]
    assert cursor > rows[0]["seq"]
    assert store.false_alarms_after(rows[0]["seq"], 10) == ([], cursor)
    store.record_verdict(verdict("a-2", 2, Verdict.CONFIRMED))
    only_confirmed, moved = store.false_alarms_after(cursor, 10)
    assert only_confirmed == [] and moved > cursor


def test_a_verdict_whose_anomaly_is_gone_is_skipped_but_passed(store: AnyStore) -> None:
    store.append_anomalies([metric("a-2", 2)])
    store.record_verdict(verdict("gone", 0))
    store.record_verdict(verdict("a-2", 1))
    rows, cursor = store.false_alarms_after(0, 1)
    assert rows == [] and cursor > 0  # the page held only the orphan, yet the cursor moved
    rows, last = store.false_alarms_after(cursor, 1)
    assert [r["anomaly_id"] for r in rows] == ["a-2"] and rows[0]["seq"] == last > cursor
    assert store.false_alarms_after(last, 1) == ([], last)


def test_limit_bounds_the_verdicts_examined_and_paging_walks_them_all(
        store: AnyStore) -> None:
    store.append_anomalies([metric(f"a-{i}", i) for i in range(7)])
    kinds = [Verdict.FALSE_ALARM, Verdict.CONFIRMED, Verdict.FALSE_ALARM,
             Verdict.CONFIRMED, Verdict.CONFIRMED, Verdict.FALSE_ALARM, Verdict.FALSE_ALARM]
    for i, kind in enumerate(kinds):
        store.record_verdict(verdict(f"a-{i}", i, kind))
    _, end = store.false_alarms_after(0, 100)
    seen: list[str] = []
    cursors = [0]
    while True:
        rows, cursor = store.false_alarms_after(cursors[-1], 2)
        if cursor == cursors[-1]:
            assert rows == []
            break
        assert len(rows) <= 2 and all(cursors[-1] < r["seq"] <= cursor for r in rows)
        seen += [r["anomaly_id"] for r in rows]
        cursors.append(cursor)
    assert seen == ["a-0", "a-2", "a-5", "a-6"]
    assert cursors[-1] == end and len(cursors) == 5  # 7 verdicts, 2 a page: 4 pages
    assert store.false_alarms_after(0, 0) == ([], 0)


def test_a_cursor_past_the_last_verdict_gives_nothing(store: AnyStore) -> None:
    assert store.false_alarms_after(0, 10) == ([], 0)
    store.append_anomalies([metric("a-1", 1)])
    store.record_verdict(verdict("a-1", 0))
    _, last = store.false_alarms_after(0, 10)
    assert store.false_alarms_after(last, 10) == ([], last)
    assert store.false_alarms_after(last + 100, 10) == ([], last + 100)


def test_false_alarm_evidence_round_trips_as_a_dict(store: AnyStore) -> None:
    evidence: dict[str, object] = {
        "member": "mad", "surprise": 7.25, "window": [1, 2.5, None],
        "nested": {"levels": {"p99": [0.1, 0.2]}, "ok": True, "label": "é \"quoted\""},
    }
    store.append_anomalies([metric("a-1", 1, evidence)])
    store.record_verdict(verdict("a-1", 0))
    [row], _ = store.false_alarms_after(0, 10)
    assert isinstance(row["evidence"], dict)
    stored = store.get_anomaly("a-1")
    assert stored is not None and row["evidence"] == evidence == stored["evidence"]
