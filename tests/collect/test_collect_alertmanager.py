from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from opscope.collect.alertmanager import parse_alertmanager
from opscope.collect.grafana import parse_grafana
from opscope.errors import PayloadTooLarge
from opscope.model import Severity, Status

FIXTURES = Path(__file__).parent.parent / "fixtures" / "collect"
RECEIVED = datetime(2026, 11, 26, 20, 0, 30, tzinfo=UTC)
STARTS = datetime(2026, 11, 26, 20, 0, 22, 134222, tzinfo=UTC)


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def test_firing_payment() -> None:
    result = parse_alertmanager(load("firing-payment.json"), RECEIVED)
    assert result.ok
    [event] = result.items
    assert event.source == "alertmanager"
    assert event.name == "PodCrashLooping"
    assert event.fingerprint == "3eaa338a7b19698b"
    assert event.status is Status.FIRING
    assert event.severity is Severity.WARNING
    assert event.entity == "payment"
    assert event.summary == "payment pod restarting"
    assert event.starts_at == STARTS
    assert event.ends_at is None
    assert event.received_at == RECEIVED
    assert event.labels["pod"] == "payment-6b8d-x2k"


def test_firing_two_instances() -> None:
    result = parse_alertmanager(load("firing-two-instances.json"), RECEIVED, source="am-prod")
    assert result.ok
    first, second = result.items
    assert {e.fingerprint for e in result.items} == {"92520912f686bd4d", "f2a57e42f0530d04"}
    assert {e.source for e in result.items} == {"am-prod"}
    assert first.severity is second.severity is Severity.CRITICAL
    assert first.entity == second.entity == "checkout"
    assert first.labels["instance"] == "checkout-5c2a:8080"
    assert second.annotations["runbook_url"] == "https://runbooks.example/checkout-latency"
    assert second.annotations["generatorURL"].startswith("http://prometheus.local:9090/")
    assert "generatorURL" not in first.annotations  # sent empty


def test_one_resolved_one_firing() -> None:
    result = parse_alertmanager(load("one-resolved-one-firing.json"), RECEIVED)
    assert result.ok
    firing, resolved = result.items
    assert firing.status is Status.FIRING and firing.ends_at is None
    assert resolved.status is Status.RESOLVED
    assert resolved.ends_at == datetime(2026, 11, 26, 20, 0, 22, tzinfo=UTC)
    assert resolved.resolved_at() == resolved.ends_at
    assert resolved.key == ("alertmanager", "f2a57e42f0530d04")


def _doc(*alerts: Any, **top: Any) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": list(alerts), **top}


def _alert(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"labels": {"alertname": "DiskFull", "host": "db-1"},
                            "annotations": {}, "startsAt": "2026-11-26T19:00:00Z",
                            "endsAt": "0001-01-01T00:00:00Z"}
    base.update(fields)
    return base


def test_unknown_severity_becomes_warning_and_the_label_is_kept() -> None:
    alert = _alert(labels={"alertname": "X", "severity": "sev-9", "job": "node"})
    [event] = parse_alertmanager(_doc(alert), RECEIVED).items
    assert event.severity is Severity.WARNING
    assert event.labels["severity"] == "sev-9"
    assert event.entity == "node"


def test_missing_fingerprint_is_derived_and_stable() -> None:
    a = parse_alertmanager(_doc(_alert()), RECEIVED).items[0]
    b = parse_alertmanager(_doc(_alert()), RECEIVED).items[0]
    assert a.fingerprint and a.fingerprint == b.fingerprint
    assert a.entity == "db-1"


def test_summary_falls_back_to_description() -> None:
    alert = _alert(annotations={"description": "disk 97% full"})
    assert parse_alertmanager(_doc(alert), RECEIVED).items[0].summary == "disk 97% full"


def test_status_falls_back_to_the_group_status() -> None:
    alert = _alert()
    del alert["endsAt"]
    doc = _doc(alert, status="resolved")
    assert parse_alertmanager(doc, RECEIVED).items[0].status is Status.RESOLVED


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        ("nope", "$"),
        ({"annotations": {}}, "labels"),
        (_alert(labels={"host": "x"}), "labels.alertname"),
        (_alert(labels={"alertname": "X", "n": 1}), "labels.n"),
        (_alert(startsAt="not a time"), "startsAt"),
        (_alert(status="pending"), "status"),
        (_alert(endsAt="2026-11-26T18:00:00Z"), "endsAt"),
        (_alert(annotations=[]), "annotations"),
    ],
)
def test_bad_alerts_are_problems_and_good_ones_are_kept(alert: Any, field: str) -> None:
    result = parse_alertmanager(_doc(_alert(), alert, _alert()), RECEIVED)
    assert len(result.items) == 2
    assert [(p.index, p.field) for p in result.problems] == [(1, field)]


def test_missing_starts_at_is_named() -> None:
    alert = _alert()
    del alert["startsAt"]
    result = parse_alertmanager(_doc(alert), RECEIVED)
    assert [(p.index, p.field) for p in result.problems] == [(0, "startsAt")]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "$"),
        ({"version": "3", "alerts": []}, "version"),
        ({"version": "4"}, "alerts"),
        ({"version": "4", "alerts": {}}, "alerts"),
    ],
)
def test_bad_notifications_are_rejected_whole(doc: Any, field: str) -> None:
    result = parse_alertmanager(doc, RECEIVED)
    assert result.items == []
    assert [(p.index, p.field) for p in result.problems] == [(None, field)]


def test_missing_version_is_accepted() -> None:
    assert len(parse_alertmanager({"alerts": [_alert()]}, RECEIVED).items) == 1


def test_too_many_alerts() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_alertmanager(_doc(*[_alert()] * 3), RECEIVED, max_alerts=2)


GRAFANA = {
    "receiver": "opscope", "status": "firing", "orgId": 1, "version": "1",
    "groupKey": "{}:{alertname=\"High memory usage\"}", "truncatedAlerts": 0,
    "title": "[FIRING:1] High memory usage", "state": "alerting",
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "High memory usage", "team": "blue", "service": "cart",
                   "grafana_folder": "shop"},
        "annotations": {"summary": "memory above 90%"},
        "startsAt": "2026-11-26T21:51:03.157076+02:00",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://grafana.example/alerting/grafana/abc/view",
        "fingerprint": "c6eadffa33fcdf37",
        "silenceURL": "https://grafana.example/alerting/silence/new?alertmanager=grafana",
        "dashboardURL": "https://grafana.example/d/xyz",
        "panelURL": "",
        "values": {"B": 44.23943737541908, "C": 1},
        "valueString": "[ var='B' labels={service=cart} value=44.2 ]",
    }],
}


def test_grafana_notification() -> None:
    result = parse_grafana(GRAFANA, RECEIVED)
    assert result.ok
    [event] = result.items
    assert event.source == "grafana"
    assert event.name == "High memory usage"
    assert event.fingerprint == "c6eadffa33fcdf37"
    assert event.entity == "cart"
    assert event.starts_at == datetime(2026, 11, 26, 19, 51, 3, 157076, tzinfo=UTC)
    assert event.annotations["dashboardURL"] == "https://grafana.example/d/xyz"
    assert "panelURL" not in event.annotations
    assert orjson.loads(event.annotations["values"]) == {"B": 44.23943737541908, "C": 1}
    assert event.annotations["valueString"].startswith("[ var='B'")


def test_grafana_rejects_alertmanager_version() -> None:
    result = parse_grafana(load("firing-payment.json"), RECEIVED)
    assert result.items == [] and result.problems[0].field == "version"
