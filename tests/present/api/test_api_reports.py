"""The operations report over a seeded store: figures checked against the seeded history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from opscope.model import Anomaly, AnomalyVerdict
from opscope.present.api.services import Services
from opscope.present.cli.main import app
from opscope.present.reports.operations import build_report, render_markdown

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
WINDOW = {"start": (T0 - timedelta(hours=1)).isoformat(),
          "end": (T0 + timedelta(days=1)).isoformat()}


def alert(name: str, entity: str, minute: float, severity: str = "warning") -> dict[str, Any]:
    return {"source": "am", "name": name, "entity": entity, "severity": severity,
            "summary": f"{name} on {entity}",
            "starts_at": (T0 + timedelta(minutes=minute)).isoformat()}


def seed(client: TestClient, services: Services, writer: dict[str, str]) -> None:
    topo = {"entities": [{"id": "web", "labels": {"user_facing": "true"}}, {"id": "api"},
                         {"id": "db", "kind": "database"}, {"id": "batch"}],
            "relations": [{"source": "web", "target": "api"},
                          {"source": "api", "target": "db"}]}
    for path, body in (
        ("/api/v1/topology", topo),
        ("/api/v1/events", [alert("HighLatency", "web", 1), alert("HighLatency", "api", 1.5),
                            alert("DatastoreSlow", "db", 1)]),
        ("/api/v1/events", [alert("DatastoreSlow", "db", 1)]),  # a repeat notification
        ("/api/v1/events", [alert("DatastoreSlow", "db", 1)]),
        ("/api/v1/events", [alert("JobFailed", "batch", 300, "critical")]),
    ):
        assert client.post(path, json=body, headers=writer).status_code < 300
    services.store.append_anomalies([
        Anomaly(id="a1", kind="metric", detector="ensemble", entity="db", subject="db/latency",
                ts=T0 + timedelta(minutes=1), score=0.9, summary="latency up",
                evidence={"driver": "seasonal"}),
        Anomaly(id="a2", kind="metric", detector="ensemble", entity="db", subject="db/cpu",
                ts=T0 + timedelta(minutes=2), score=0.8, summary="cpu up",
                evidence={"driver": "seasonal"}),
        Anomaly(id="a3", kind="log_rate", entity="web", subject="t1",
                ts=T0 + timedelta(minutes=3), score=0.7, summary="errors surge"),
        Anomaly(id="a4", kind="metric", detector="ensemble", entity="api", subject="api/rps",
                ts=T0 + timedelta(minutes=4), score=0.7, summary="rps down"),
    ])
    # a1 was first called a false alarm, then confirmed: the latest verdict counts.
    for anomaly_id, verdict, minute in (("a1", "false_alarm", 10), ("a1", "confirmed", 20),
                                        ("a2", "false_alarm", 10), ("a3", "false_alarm", 10)):
        services.store.record_verdict(AnomalyVerdict(
            anomaly_id=anomaly_id, verdict=verdict, ts=T0 + timedelta(minutes=minute)))
    assert services.bus.drain()


def test_report_counts_what_the_history_holds(
        client: TestClient, services: Services, writer: dict[str, str],
        reader: dict[str, str], tokens: dict[str, str]) -> None:
    seed(client, services, writer)
    incidents = client.get("/api/v1/incidents", headers=reader).json()["items"]
    assert len(incidents) == 2
    by_severity = {i["severity"]: i["id"] for i in incidents}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    assert client.post(f"/api/v1/incidents/{by_severity['critical']}/ack",
                       headers=admin).status_code == 200
    assert client.post(f"/api/v1/incidents/{by_severity['critical']}/resolve",
                       headers=admin).status_code == 200
    resp = client.get("/api/v1/reports/operations", params=WINDOW, headers=reader)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    inc = report["incidents"]
    assert (inc["opened"], inc["resolved"], inc["open"]) == (2, 1, 1)
    assert inc["by_severity"] == {"critical": 1, "warning": 1}
    assert inc["time_to_acknowledge_s"]["count"] == 1
    assert inc["time_to_resolve_s"]["count"] == 1
    assert inc["top_impact"] == [{"name": "web", "count": 1}]
    alerts = report["alerts"]
    assert (alerts["distinct"], alerts["notifications"]) == (4, 6)
    assert alerts["per_incident"] == 2.0
    assert alerts["noisiest"][0] == {"name": "DatastoreSlow on db", "count": 3}
    assert report["anomalies"]["total"] == 4 and report["capped"] == []
    assert report["anomalies"]["verdicts"] == {
        "judged": 3, "false_alarm": 2, "confirmed": 1,
        "by_view": [{"name": "log_rate", "false_alarm": 1, "confirmed": 0},
                    {"name": "seasonal", "false_alarm": 1, "confirmed": 1}]}
    markdown = client.get("/api/v1/reports/operations", headers=reader,
                          params={**WINDOW, "format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "- opened **2**, resolved 1, still open 1" in markdown.text
    assert "| DatastoreSlow on db | 3 |" in markdown.text
    assert "- judged by operators: 3 (2 false alarms, 1 confirmed)" in markdown.text
    assert "| seasonal | 1 | 1 |" in markdown.text


def test_a_window_outside_the_history_is_empty_and_bad_windows_are_refused(
        client: TestClient, services: Services, writer: dict[str, str],
        reader: dict[str, str]) -> None:
    seed(client, services, writer)
    later = client.get("/api/v1/reports/operations", headers=reader, params={
        "start": (T0 + timedelta(days=2)).isoformat(),
        "end": (T0 + timedelta(days=3)).isoformat()}).json()
    assert later["incidents"]["opened"] == 0 and later["alerts"]["distinct"] == 0
    assert later["alerts"]["per_incident"] is None
    assert "opened **0**" in render_markdown(later)
    backwards = client.get("/api/v1/reports/operations", headers=reader, params={
        "start": WINDOW["end"], "end": WINDOW["start"]})
    assert backwards.status_code == 422
    assert client.get("/api/v1/reports/operations").status_code == 401


def test_reads_are_bounded_and_say_so(client: TestClient, services: Services,
                                      writer: dict[str, str]) -> None:
    seed(client, services, writer)
    report = build_report(services.store, T0 - timedelta(hours=1), T0 + timedelta(days=1),
                          max_rows=2)
    assert "alerts" in report["capped"] and report["alerts"]["distinct"] == 2
    assert "Read limit reached for: alerts" in render_markdown(report)


def test_cli_reads_a_stopped_servers_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no database at" in result.output
    result = CliRunner().invoke(app, ["report", "--format", "xml", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
