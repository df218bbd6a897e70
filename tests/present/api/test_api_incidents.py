"""The incident and silence API: list, detail, operator actions, silences, scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from opscope.present.api.services import Services

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
TOPOLOGY = {"entities": [{"id": "web"}, {"id": "api"}, {"id": "db", "kind": "database"},
                         {"id": "batch"}],
            "relations": [{"source": "web", "target": "api"},
                          {"source": "api", "target": "db"}]}


def alert(name: str, entity: str, minute: float, severity: str = "warning") -> dict[str, Any]:
    return {"source": "am", "name": name, "entity": entity, "severity": severity,
            "summary": f"{name} on {entity}",
            "starts_at": (T0 + timedelta(minutes=minute)).isoformat()}


def post(client: TestClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code < 300, response.text
    return response.json()


def two_incidents(client: TestClient, services: Services, writer: dict[str, str]) -> None:
    post(client, "/api/v1/topology", TOPOLOGY, writer)
    post(client, "/api/v1/events", [alert("HighLatency", "web", 1),
                                    alert("HighLatency", "api", 1.5),
                                    alert("DatastoreSlow", "db", 2)], writer)
    post(client, "/api/v1/events", [alert("JobFailed", "batch", 30, "critical")], writer)
    assert services.bus.drain()


def test_list_and_detail(client: TestClient, services: Services, writer: dict[str, str],
                         reader: dict[str, str]) -> None:
    two_incidents(client, services, writer)
    listed = client.get("/api/v1/incidents", headers=reader).json()
    assert [i["entities"] for i in listed["items"]] == [["batch"], ["api", "db", "web"]]
    assert listed["items"][0]["severity"] == "critical"
    only = client.get("/api/v1/incidents", params={"entity": "db"}, headers=reader).json()
    assert len(only["items"]) == 1
    crit = client.get("/api/v1/incidents", params={"severity": "critical"},
                      headers=reader).json()
    assert [i["entities"] for i in crit["items"]] == [["batch"]]
    page = client.get("/api/v1/incidents", params={"limit": 1}, headers=reader).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    inc_id = only["items"][0]["id"]
    detail = client.get(f"/api/v1/incidents/{inc_id}", headers=reader).json()
    assert sorted(m["signal"]["entity"] for m in detail["members"]) == ["api", "db", "web"]
    assert detail["timeline"][0]["kind"] in ("signal_added", "opened")
    assert detail["impact"] == ["web"] and detail["signal_count"] == 3
    assert "hypotheses" in detail
    assert detail["member_total"] == 3 and detail["timeline_total"] == len(detail["timeline"])
    members = client.get(f"/api/v1/incidents/{inc_id}/members", params={"limit": 2},
                         headers=reader).json()
    rest = client.get(f"/api/v1/incidents/{inc_id}/members",
                      params={"limit": 2, "cursor": members["next_cursor"]},
                      headers=reader).json()
    assert rest["next_cursor"] is None
    assert sorted(m["signal"]["entity"] for m in members["items"] + rest["items"]) \
        == ["api", "db", "web"]
    timeline = client.get(f"/api/v1/incidents/{inc_id}/timeline", headers=reader).json()
    assert len(timeline["items"]) == detail["timeline_total"]
    assert client.get("/api/v1/incidents/nope", headers=reader).status_code == 404
    assert client.get("/api/v1/incidents/nope/members", headers=reader).status_code == 404
    bad = client.get("/api/v1/incidents", params={"status": "bogus"}, headers=reader)
    assert bad.status_code == 422


def test_operator_actions(client: TestClient, services: Services, writer: dict[str, str],
                          reader: dict[str, str]) -> None:
    two_incidents(client, services, writer)
    items = client.get("/api/v1/incidents", headers=reader).json()["items"]
    batch_id, shop_id = items[0]["id"], items[1]["id"]
    # A read token cannot act.
    assert client.post(f"/api/v1/incidents/{shop_id}/ack", headers=reader).status_code == 403
    acked = post(client, f"/api/v1/incidents/{shop_id}/ack", {"actor": "alice"}, writer)
    assert acked["incident"]["acknowledged_by"] == "alice"
    detail = client.get(f"/api/v1/incidents/{shop_id}", headers=reader).json()
    db_signal = next(m["signal"]["id"] for m in detail["members"]
                     if m["signal"]["entity"] == "db")
    split = post(client, f"/api/v1/incidents/{shop_id}/split",
                 {"signal_ids": [db_signal]}, writer)["incident"]
    assert split["entities"] == ["db"]
    merged = post(client, "/api/v1/incidents/merge",
                  {"target": shop_id, "sources": [split["id"], batch_id]}, writer)["incident"]
    assert merged["entities"] == ["api", "batch", "db", "web"]
    resolved = post(client, f"/api/v1/incidents/{shop_id}/resolve", None, writer)["incident"]
    assert resolved["status"] == "resolved"
    again = client.post(f"/api/v1/incidents/{shop_id}/resolve", headers=writer)
    assert again.status_code == 422
    missing = client.post("/api/v1/incidents/nope/ack", headers=writer)
    assert missing.status_code == 404
    detail = client.get(f"/api/v1/incidents/{shop_id}", headers=reader).json()
    assert [a["action"] for a in detail["actions"]] == ["ack", "split", "merge", "resolve"]
    assert detail["actions"][-1]["actor"] == "ingest"  # the token's name
    assert detail["timeline"][-1]["summary"] == "resolved by ingest"
    merged_away = client.get(f"/api/v1/incidents/{batch_id}", headers=reader).json()
    assert merged_away["status"] == "merged"
    listed = client.get("/api/v1/incidents", params={"status": "merged"}, headers=reader)
    assert {i["id"] for i in listed.json()["items"]} == {batch_id, split["id"]}


def test_silences_crud_and_muted_members_stay_visible(
        client: TestClient, services: Services, writer: dict[str, str],
        reader: dict[str, str]) -> None:
    post(client, "/api/v1/topology", TOPOLOGY, writer)
    post(client, "/api/v1/events", [alert("Warmup", "web", 0)], writer)
    assert services.bus.drain()
    created = post(client, "/api/v1/silences", {
        "matchers": [{"name": "alertname", "value": "HighErrors"}],
        "duration_minutes": 60, "comment": "known issue"}, writer)
    assert created["created_by"] == "ingest" and created["id"].startswith("sil-")
    assert created["starts_at"] == T0.isoformat().replace("+00:00", "Z")
    post(client, "/api/v1/events", [alert("HighLatency", "web", 1),
                                    alert("HighErrors", "web", 1.2),
                                    alert("HighLatency", "api", 1.4)], writer)
    assert services.bus.drain()
    incidents = client.get("/api/v1/incidents", headers=reader).json()["items"]
    (inc,) = [i for i in incidents if "api" in i["entities"]]
    assert inc["muted_count"] == 1
    detail = client.get(f"/api/v1/incidents/{inc['id']}", headers=reader).json()
    muted = [m for m in detail["members"] if m["muted_by"]]
    assert [m["signal"]["name"] for m in muted] == ["HighErrors"]
    assert muted[0]["muted_by"][0]["id"] == created["id"]
    listed = client.get("/api/v1/silences", params={"active": True}, headers=reader).json()
    assert [s["id"] for s in listed["items"]] == [created["id"]]
    one = client.get(f"/api/v1/silences/{created['id']}", headers=reader).json()
    assert one["comment"] == "known issue"
    # Extended by an hour, with a new comment; its matchers and author stay.
    extended = client.put(f"/api/v1/silences/{created['id']}", headers=writer,
                          json={"duration_minutes": 120, "comment": "known issue, INC-42"})
    assert extended.status_code == 200, extended.text
    assert extended.json()["ends_at"] == (T0 + timedelta(minutes=120)).isoformat().replace(
        "+00:00", "Z")
    assert extended.json()["matchers"] == created["matchers"]
    assert extended.json()["created_by"] == "ingest"
    again = client.get(f"/api/v1/silences/{created['id']}", headers=reader).json()
    assert again["comment"] == "known issue, INC-42"
    assert client.put("/api/v1/silences/nope", json={"comment": "x"},
                      headers=writer).status_code == 404
    backwards = client.put(f"/api/v1/silences/{created['id']}", headers=writer,
                           json={"ends_at": "2000-01-01T00:00:00Z"})
    assert backwards.status_code == 422
    assert client.delete(f"/api/v1/silences/{created['id']}", headers=reader).status_code == 403
    ended = client.delete(f"/api/v1/silences/{created['id']}", headers=writer).json()
    assert ended["ends_at"] < created["ends_at"]
    assert client.get("/api/v1/silences", params={"active": True},
                      headers=reader).json()["items"] == []
    assert len(client.get("/api/v1/silences", headers=reader).json()["items"]) == 1
    assert client.delete("/api/v1/silences/nope", headers=writer).status_code == 404
    bad = client.post("/api/v1/silences", json={"matchers": [{"name": "x", "value": "y"}]},
                      headers=writer)
    assert bad.status_code == 422
