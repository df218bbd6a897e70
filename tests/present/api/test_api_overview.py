"""The overview endpoint: business view, operations view, empty store, scopes; whoami."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from opscope.model import Anomaly
from opscope.present.api.services import Services

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def topology(marked: bool) -> dict[str, Any]:
    labels = {"user_facing": "true"} if marked else {}
    return {"entities": [{"id": "web", "labels": labels}, {"id": "api"},
                         {"id": "db", "kind": "database"}, {"id": "batch"}],
            "relations": [{"source": "web", "target": "api"},
                          {"source": "api", "target": "db"}]}


def alert(name: str, entity: str, minute: float, severity: str = "warning") -> dict[str, Any]:
    return {"source": "am", "name": name, "entity": entity, "severity": severity,
            "summary": f"{name} on {entity}",
            "starts_at": (T0 + timedelta(minutes=minute)).isoformat()}


def post(client: TestClient, path: str, body: Any, headers: dict[str, str]) -> None:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code < 300, response.text


def seed(client: TestClient, services: Services, writer: dict[str, str], marked: bool) -> None:
    post(client, "/api/v1/topology", topology(marked), writer)
    post(client, "/api/v1/events", [alert("HighLatency", "web", 1),
                                    alert("HighLatency", "api", 1.5),
                                    alert("DatastoreSlow", "db", 1)], writer)
    # The same alert notified again folds into one alert with a repeat.
    post(client, "/api/v1/events", [alert("DatastoreSlow", "db", 1)], writer)
    post(client, "/api/v1/events", [alert("JobFailed", "batch", 30, "critical")], writer)
    assert services.bus.drain()


def overview(client: TestClient, reader: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/v1/overview", headers=reader)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_business_view_lists_user_facing_services_with_their_incidents(
        client: TestClient, services: Services, writer: dict[str, str],
        reader: dict[str, str]) -> None:
    seed(client, services, writer, marked=True)
    body = overview(client, reader)
    assert [s["id"] for s in body["services"]] == ["web"]
    web = body["services"][0]
    assert web["status"] == "affected" and web["worst_severity"] == "warning"
    assert web["since"] == "2026-04-01T08:01:00Z"
    assert len(web["incidents"]) == 1 and web["incidents"][0]["severity"] == "warning"
    assert body["topology_entities"] == 4


def test_unmarked_topology_takes_entry_points_as_user_facing(
        client: TestClient, services: Services, writer: dict[str, str],
        reader: dict[str, str]) -> None:
    post(client, "/api/v1/topology", topology(marked=False), writer)
    assert services.bus.drain()
    body = overview(client, reader)
    assert [(s["id"], s["status"], s["incidents"]) for s in body["services"]] == [
        ("web", "ok", [])]


def test_operations_view_counts_incidents_alerts_anomalies_and_ingestion(
        client: TestClient, services: Services, writer: dict[str, str],
        reader: dict[str, str]) -> None:
    seed(client, services, writer, marked=True)
    services.store.append_anomalies([
        Anomaly(kind="metric", entity="db", subject="s1", ts=T0, score=5.0,
                summary="latency up"),
        Anomaly(kind="log_new_template", entity="api", subject="t1",
                ts=T0 + timedelta(minutes=1), score=1.0, summary="new log line")])
    # A burst of log anomalies newer than the metric one does not hide it.
    services.store.append_anomalies([
        Anomaly(kind="log_rate", entity="api", subject=f"t{i}",
                ts=T0 + timedelta(minutes=2, seconds=i), summary=f"burst {i}")
        for i in range(250)])
    body = overview(client, reader)
    incidents = body["incidents"]
    assert incidents["open"] == 2 and not incidents["capped"]
    assert incidents["by_severity"] == {"critical": 1, "error": 0, "warning": 1, "info": 0}
    assert incidents["newest"][0]["severity"] == "critical"
    assert body["alerts"]["firing"] == 4 and not body["alerts"]["capped"]
    assert [(n["name"], n["entity"], n["repeats"]) for n in body["alerts"]["noisy"]] == [
        ("DatastoreSlow", "db", 1)]
    assert [a["summary"] for a in body["anomalies"]["metric"]] == ["latency up"]
    assert [a["summary"] for a in body["anomalies"]["log"]] == [
        f"burst {i}" for i in range(249, 241, -1)]
    assert body["ingestion"]["ingested"]["events"] == 5
    assert all({"subscriber", "topic", "depth"} <= q.keys() for q in body["ingestion"]["queues"])


def test_empty_store_answers_zeros_and_empty_lists(client: TestClient,
                                                   reader: dict[str, str]) -> None:
    body = overview(client, reader)
    assert body["services"] == [] and body["topology_entities"] == 0
    assert body["incidents"]["open"] == 0 and body["incidents"]["newest"] == []
    assert body["alerts"] == {"firing": 0, "capped": False, "noisy": [], "scanned": 0}
    assert body["anomalies"]["metric"] == [] and body["anomalies"]["log"] == []


def test_overview_and_whoami_need_the_read_scope(client: TestClient,
                                                 tokens: dict[str, str]) -> None:
    assert client.get("/api/v1/overview").status_code == 401
    ingest_only = {"Authorization": f"Bearer {tokens['ingest']}"}
    assert client.get("/api/v1/overview", headers=ingest_only).status_code == 403
    read = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {tokens['read']}"})
    assert read.json() == {"name": "read", "scopes": ["read"], "can_act": False}
    admin = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert admin.json() == {"name": "admin", "scopes": ["admin"], "can_act": True}
