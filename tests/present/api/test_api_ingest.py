"""Ingestion endpoints: formats, dedup, batch policy, limits, errors that name the item."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from fastapi.testclient import TestClient

from opscope.present.api.services import Services

FIXTURES = Path(__file__).parents[2] / "fixtures"

EVENT = {"source": "nagios", "name": "DiskFull", "entity": "host-1", "severity": "critical",
         "starts_at": "2026-11-26T10:00:00Z", "labels": {"mount": "/var"}}


def test_generic_events_are_stored_and_readable(client: TestClient, writer: dict[str, str],
                                                reader: dict[str, str]) -> None:
    resp = client.post("/api/v1/events", json=[EVENT, {**EVENT, "entity": "host-2"}],
                       headers=writer)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 2
    items = client.get("/api/v1/events", params={"entity": "host-1"}, headers=reader).json()
    assert [e["entity"] for e in items["items"]] == ["host-1"]
    assert items["items"][0]["labels"] == {"mount": "/var"}


def test_same_alert_twice_is_one_updated_event(client: TestClient, writer: dict[str, str],
                                               reader: dict[str, str]) -> None:
    for _ in range(2):
        assert client.post("/api/v1/events", json=[EVENT], headers=writer).status_code == 200
    resolved = {**EVENT, "status": "resolved", "ends_at": "2026-11-26T10:05:00Z"}
    assert client.post("/api/v1/events", json=[resolved], headers=writer).status_code == 200
    items = client.get("/api/v1/events", headers=reader).json()["items"]
    assert len(items) == 1
    assert items[0]["status"] == "resolved"
    assert items[0]["repeat_count"] == 2  # notifications after the first
    history = client.get(f"/api/v1/events/nagios/{items[0]['fingerprint']}/history",
                         headers=reader).json()["items"]
    assert [h["status"] for h in history] == ["resolved", "firing", "firing"]


def test_alertmanager_webhook_fires_then_resolves(client: TestClient, writer: dict[str, str],
                                                  reader: dict[str, str]) -> None:
    firing = json.loads((FIXTURES / "alertmanager/firing-two-instances.json").read_text())
    resp = client.post("/api/v1/alertmanager", json=firing, headers=writer)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 2
    mixed = json.loads((FIXTURES / "alertmanager/one-resolved-one-firing.json").read_text())
    assert client.post("/api/v1/alertmanager", json=mixed, headers=writer).status_code == 200
    items = client.get("/api/v1/events", params={"source": "alertmanager"},
                       headers=reader).json()["items"]
    by_fp = {e["fingerprint"]: e for e in items}
    assert len(items) == len(by_fp) == 2
    assert by_fp["f2a57e42f0530d04"]["status"] == "resolved"
    assert by_fp["92520912f686bd4d"]["status"] == "firing"
    assert by_fp["92520912f686bd4d"]["entity"] == "checkout"


def test_one_bad_item_rejects_whole_batch_and_names_it(client: TestClient,
                                                       writer: dict[str, str],
                                                       reader: dict[str, str]) -> None:
    bad = {**EVENT, "severity": "apocalyptic"}
    resp = client.post("/api/v1/events", json=[EVENT, bad], headers=writer)
    assert resp.status_code == 422
    body = resp.json()
    assert body["error"] == "validation_failed"
    assert body["problems"][0]["index"] == 1
    assert body["problems"][0]["field"] == "severity"
    assert client.get("/api/v1/events", headers=reader).json()["items"] == []


def test_partial_keeps_valid_items(client: TestClient, writer: dict[str, str],
                                   reader: dict[str, str]) -> None:
    bad = {**EVENT, "starts_at": "not a time"}
    resp = client.post("/api/v1/events", params={"partial": "true"},
                       json=[bad, EVENT], headers=writer)
    assert resp.status_code == 200
    assert resp.json()["accepted"] == 1
    assert resp.json()["rejected"][0]["index"] == 0
    assert len(client.get("/api/v1/events", headers=reader).json()["items"]) == 1


def test_unknown_field_is_rejected_by_name(client: TestClient, writer: dict[str, str]) -> None:
    resp = client.post("/api/v1/events", json=[{**EVENT, "colour": "red"}], headers=writer)
    assert resp.status_code == 422
    assert resp.json()["problems"][0]["field"] == "colour"


def test_malformed_json_and_bad_encoding(client: TestClient, writer: dict[str, str]) -> None:
    resp = client.post("/api/v1/events", content=b'[{"source": ', headers={
        **writer, "Content-Type": "application/json"})
    assert resp.status_code == 422
    assert "json" in resp.json()["message"].lower()
    resp = client.post("/api/v1/logs", content=b"caf\xe9 latte\n", headers={
        **writer, "Content-Type": "text/plain"})
    assert resp.status_code == 415


def test_oversize_body_and_batch(client: TestClient, writer: dict[str, str]) -> None:
    huge = b"x" * 1_000_001
    resp = client.post("/api/v1/logs", content=huge, headers={
        **writer, "Content-Type": "text/plain"})
    assert resp.status_code == 413
    many = [{"message": "m", "ts": 1} for _ in range(5_001)]
    resp = client.post("/api/v1/logs", json=many, headers=writer)
    assert resp.status_code == 413


def test_gzip_body_is_accepted(client: TestClient, writer: dict[str, str],
                               reader: dict[str, str]) -> None:
    body = gzip.compress(json.dumps([{"message": "zipped line", "ts": 1700000000}]).encode())
    resp = client.post("/api/v1/logs", content=body, headers={
        **writer, "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert resp.status_code == 200, resp.text
    assert client.get("/api/v1/logs", params={"q": "zipped"},
                      headers=reader).json()["items"][0]["message"] == "zipped line"


def test_logs_in_three_formats(client: TestClient, writer: dict[str, str],
                               reader: dict[str, str]) -> None:
    assert client.post("/api/v1/logs", json=[{"message": "json one", "ts": 1700000000,
                                              "level": "ERROR", "entity": "cart"}],
                       headers=writer).status_code == 200
    ndjson = b'{"message": "nd one", "ts": 1700000001}\n\n{"message": "nd two"}\n'
    assert client.post("/api/v1/logs", content=ndjson, headers={
        **writer, "Content-Type": "application/x-ndjson"}).json()["accepted"] == 2
    text = "plain one\nplain two\n"
    resp = client.post("/api/v1/logs", content=text.encode(), params={"entity": "web-1",
                       "source": "file"}, headers={**writer, "Content-Type": "text/plain"})
    assert resp.json()["accepted"] == 2
    plain = client.get("/api/v1/logs", params={"entity": "web-1"}, headers=reader).json()
    assert sorted(r["message"] for r in plain["items"]) == ["plain one", "plain two"]
    errors = client.get("/api/v1/logs", params={"level": "error"}, headers=reader).json()
    assert [r["message"] for r in errors["items"]] == ["json one"]


def test_prometheus_exposition_and_series_query(client: TestClient, writer: dict[str, str],
                                                reader: dict[str, str]) -> None:
    text = (FIXTURES / "prometheus/prometheus-2.42-self-metrics.txt").read_bytes()
    resp = client.post("/api/v1/metrics/prometheus", content=text, params={"job": "prom"},
                       headers={**writer, "Content-Type": "text/plain"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] > 100
    series = client.get("/api/v1/metrics/series", params={
        "name": "go_goroutines", "match": "job=prom"}, headers=reader).json()["series"]
    assert len(series) == 1
    assert series[0]["points"][0][1] == 27


def test_json_metrics_step_aggregation(client: TestClient, writer: dict[str, str],
                                       reader: dict[str, str]) -> None:
    samples = [{"name": "cpu", "labels": {"service": "cart"}, "value": float(v),
                "ts": 1_700_000_000 + 10 * v} for v in range(12)]
    assert client.post("/api/v1/metrics", json=samples, headers=writer).status_code == 200
    series = client.get("/api/v1/metrics/series", params={
        "name": "cpu", "match": 'service="cart"', "step": 60, "agg": "max"},
        headers=reader).json()["series"]
    values = [p[1] for p in series[0]["points"]]
    assert max(values) == 11.0
    assert len(values) <= 3


def test_tickets_changes_topology(client: TestClient, writer: dict[str, str],
                                  reader: dict[str, str]) -> None:
    ticket = {"id": "INC-1", "title": "checkout slow", "created_at": "2026-11-01T10:00:00Z",
              "entity": "checkout", "status": "resolved", "resolution": "rolled back"}
    assert client.post("/api/v1/tickets", json=[ticket], headers=writer).status_code == 200
    change = {"entity": "checkout", "kind": "deploy", "version": "1.4.2",
              "ts": "2026-11-01T09:55:00Z", "author": "ci"}
    assert client.post("/api/v1/changes", json=[change], headers=writer).status_code == 200
    topo = {"entities": [{"id": "checkout"}, {"id": "payment"}],
            "relations": [{"source": "checkout", "target": "payment", "kind": "calls"}]}
    assert client.post("/api/v1/topology", json=topo, headers=writer).status_code == 200
    assert client.get("/api/v1/tickets", headers=reader).json()["items"][0]["id"] == "INC-1"
    assert client.get("/api/v1/changes", params={"entity": "checkout"},
                      headers=reader).json()["items"][0]["version"] == "1.4.2"
    graph = client.get("/api/v1/topology", headers=reader).json()
    assert {e["id"] for e in graph["entities"]} == {"checkout", "payment"}
    assert graph["relations"][0]["kind"] == "calls"


def test_overload_answers_503_with_retry_after(client: TestClient, services: Services,
                                               writer: dict[str, str],
                                               reader: dict[str, str]) -> None:
    import threading

    gate = threading.Event()
    services.bus.max_batches = 1
    services.bus.subscribe("logs", "slow-test-stage", lambda batch: gate.wait(10))
    try:
        statuses = [client.post("/api/v1/logs", json=[{"message": f"m{i}", "ts": 1}],
                                headers=writer).status_code for i in range(4)]
        assert 503 in statuses
        refused = next(i for i, s in enumerate(statuses) if s == 503)
        resp = client.post("/api/v1/logs", json=[{"message": "again", "ts": 1}], headers=writer)
        assert resp.status_code == 503
        assert int(resp.headers["Retry-After"]) >= 1
        stored = client.get("/api/v1/logs", headers=reader).json()["items"]
        # every acknowledged batch is stored; refused ones are not
        assert len(stored) == refused
    finally:
        gate.set()
