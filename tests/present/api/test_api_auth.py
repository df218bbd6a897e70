"""Tokens and scopes guard every endpoint but /healthz and /metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_open_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    metrics = client.get("/metrics").text
    assert "opscope_ingested_items_total" in metrics
    assert 'opscope_unpublished_batches{kind="logs"} 0' in metrics


def test_missing_unknown_and_wrong_scope(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/v1/events").status_code == 401
    bad = {"Authorization": "Bearer ops_nope_nope"}
    assert client.get("/api/v1/events", headers=bad).status_code == 401
    ingest_only = {"Authorization": f"Bearer {tokens['ingest']}"}
    assert client.get("/api/v1/events", headers=ingest_only).status_code == 403
    read_only = {"Authorization": f"Bearer {tokens['read']}"}
    resp = client.post("/api/v1/events", json=[], headers=read_only)
    assert resp.status_code == 403
    assert "ingest" in resp.json()["message"]


def test_admin_creates_and_revokes_tokens(client: TestClient, tokens: dict[str, str]) -> None:
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    resp = client.post("/api/v1/tokens", json={"scopes": ["read"], "name": "grafana"},
                       headers=admin)
    assert resp.status_code == 201
    new = resp.json()["token"]
    assert client.get("/api/v1/events", headers={"Authorization": f"Bearer {new}"}
                      ).status_code == 200
    listed = client.get("/api/v1/tokens", headers=admin).json()["items"]
    assert all("digest" not in row and new not in str(row) for row in listed)
    assert client.post("/api/v1/tokens", json={"scopes": ["root"]},
                       headers=admin).status_code == 422


def test_metrics_count_ingest(client: TestClient, tokens: dict[str, str]) -> None:
    writer = {"Authorization": f"Bearer {tokens['ingest']}"}
    client.post("/api/v1/logs", json=[{"message": "a", "ts": 1}, {"message": "b", "ts": 1}],
                headers=writer)
    text = client.get("/metrics").text
    assert 'opscope_ingested_items_total{kind="logs"} 2' in text
    assert "opscope_http_request_duration_seconds_bucket" in text


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/events", "/api/v1/alertmanager", "/api/v1/logs", "/api/v1/metrics",
                 "/api/v1/metrics/prometheus", "/api/v1/tickets", "/api/v1/changes",
                 "/api/v1/topology", "/otlp/v1/logs"):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200
