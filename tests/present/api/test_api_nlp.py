"""Similar incidents, summaries and plain-English questions over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opscope.app import build_services
from opscope.config import LanguageModel, load_settings
from opscope.errors import ConfigError
from opscope.present.api.nlp import library_of
from opscope.present.api.services import Services
from opscope.store.duckdb import DuckDBStore

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
TOPOLOGY = {"entities": [{"id": "web"}, {"id": "api"}, {"id": "db-1", "kind": "database"},
                         {"id": "db-2", "kind": "database"}, {"id": "batch"}],
            "relations": [{"source": "web", "target": "api"},
                          {"source": "api", "target": "db-1"},
                          {"source": "api", "target": "db-2"}]}


def alert(name: str, entity: str, minute: float, severity: str = "warning",
          resolved: bool = False) -> dict[str, Any]:
    body = {"source": "am", "name": name, "entity": entity, "severity": severity,
            "summary": f"{name} on {entity}",
            "starts_at": (T0 + timedelta(minutes=minute)).isoformat()}
    if resolved:
        body |= {"status": "resolved",
                 "ends_at": (T0 + timedelta(minutes=minute + 5)).isoformat()}
    return body


def post(client: TestClient, path: str, body: Any, headers: dict[str, str]) -> None:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code < 300, response.text


@pytest.fixture()
def history(client: TestClient, services: Services, writer: dict[str, str],
            reader: dict[str, str]) -> list[str]:
    """Three incidents: a slow database on db-1, an unrelated batch failure, and the same
    slow-database fault again on the other replica, db-2. Ids oldest first."""
    post(client, "/api/v1/topology", TOPOLOGY, writer)
    post(client, "/api/v1/events", [alert("DatastoreSlow", "db-1", 1, "critical", True),
                                    alert("HighLatency", "api", 1.5, resolved=True),
                                    alert("HighLatency", "web", 2, resolved=True)], writer)
    post(client, "/api/v1/events", [alert("JobFailed", "batch", 60, "error", True)], writer)
    post(client, "/api/v1/events", [alert("DatastoreSlow", "db-2", 120, "critical"),
                                    alert("HighLatency", "api", 120.5),
                                    alert("HighLatency", "web", 121)], writer)
    assert services.bus.drain()
    items = client.get("/api/v1/incidents", headers=reader).json()["items"]
    return [i["id"] for i in reversed(items)]


def test_similar_ranks_the_same_fault_on_the_other_replica_first(
        client: TestClient, history: list[str], reader: dict[str, str]) -> None:
    assert len(history) == 3
    first, _, again = history
    answer = client.get(f"/api/v1/incidents/{again}/similar", headers=reader).json()
    assert answer["incident_id"] == again and answer["indexed"] == 3
    ids = [item["incident_id"] for item in answer["items"]]
    assert ids[0] == first and again not in ids
    top = answer["items"][0]
    assert 0 < top["score"] <= 1
    assert "DatastoreSlow on db" in top["explanation"]
    assert top["outcome"]["opened_at"].startswith("2026-04-01T08:01")
    assert top["outcome"]["reactions"] == []
    one = client.get(f"/api/v1/incidents/{again}/similar", params={"limit": 1},
                     headers=reader).json()
    assert len(one["items"]) == 1
    assert client.get("/api/v1/incidents/nope/similar", headers=reader).status_code == 404
    assert client.get(f"/api/v1/incidents/{again}/similar",
                      params={"limit": 0}, headers=reader).status_code == 422
    assert client.get(f"/api/v1/incidents/{again}/similar").status_code == 401


def test_summary_names_its_sources(client: TestClient, history: list[str],
                                   reader: dict[str, str]) -> None:
    answer = client.get(f"/api/v1/incidents/{history[2]}/summary", headers=reader).json()
    assert answer["text"].startswith("A critical incident on api, db-2 and web, affecting "
                                     "the user-facing web.")
    assert "3 alerts (HighLatency x2 and DatastoreSlow)" in answer["text"]
    assert all(s["sources"] for s in answer["sentences"])
    assert client.get("/api/v1/incidents/nope/summary", headers=reader).status_code == 404
    # No language model is configured: none is named, and asking for a retelling says so.
    assert answer["narrator"] is None and "narrative" not in answer
    told = client.get(f"/api/v1/incidents/{history[2]}/summary", params={"narrate": "true"},
                      headers=reader).json()
    assert told["narrative_error"] == "no language model is configured (nlp.llm.url)"
    assert told["text"] == answer["text"]


def test_a_configured_model_that_fails_leaves_the_summary_whole(
        client: TestClient, services: Services, history: list[str],
        reader: dict[str, str]) -> None:
    services.settings.nlp.llm = LanguageModel(url="http://127.0.0.1:9/v1", model="tiny",
                                              timeout_seconds=2)
    told = client.get(f"/api/v1/incidents/{history[2]}/summary", params={"narrate": "true"},
                      headers=reader).json()
    assert told["narrator"] == "tiny"
    assert told["narrative_error"].startswith("the model could not be reached")
    assert told["text"].startswith("A critical incident on api")


def test_ask_answers_with_its_reading(client: TestClient, history: list[str],
                                      reader: dict[str, str]) -> None:
    listed = client.get("/api/v1/ask", params={"q": "critical alerts on db-2"},
                        headers=reader).json()
    assert listed["interpretation"]["text"] == \
        "I read this as: alerts, severity critical, entity db-2, any time."
    assert [row["name"] for row in listed["answer"]["items"]] == ["DatastoreSlow"]
    counted = client.get("/api/v1/ask", params={"q": "how many incidents"},
                         headers=reader).json()
    assert counted["answer"] == {"kind": "count", "count": 3, "at_least": False}
    top = client.get("/api/v1/ask", params={"q": "which databases had the most alerts"},
                     headers=reader).json()
    assert top["answer"]["entities"] == [{"entity": "db-1", "count": 1},
                                         {"entity": "db-2", "count": 1}]
    resolved = client.get("/api/v1/ask", params={"q": "resolved incidents on batch"},
                          headers=reader).json()
    assert [i["id"] for i in resolved["answer"]["items"]] == [history[1]]


def test_ask_refuses_what_it_cannot_read(client: TestClient, history: list[str],
                                         reader: dict[str, str]) -> None:
    bad = client.get("/api/v1/ask", params={"q": "alerts on frobnicator"}, headers=reader)
    assert bad.status_code == 422
    body = bad.json()
    assert body["error"] == "validation_failed"
    assert body["interpretation"]["not_understood"] == ["frobnicator"]
    assert body["problems"][0] == {"index": None, "field": "q",
                                   "message": "not understood: 'frobnicator'"}
    vague = client.get("/api/v1/ask", params={"q": "what happened to web"}, headers=reader)
    assert vague.status_code == 422 and "no subject" in vague.text
    assert client.get("/api/v1/ask", params={"q": "x" * 501},
                      headers=reader).status_code == 422
    assert client.get("/api/v1/ask", params={"q": "alerts\x00"},
                      headers=reader).status_code == 422
    assert client.get("/api/v1/ask", params={"q": "alerts"}).status_code == 401


def test_the_routes_are_described_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/incidents/{incident_id}/similar",
                 "/api/v1/incidents/{incident_id}/summary", "/api/v1/ask"):
        assert paths[path]["get"]["description"]


def test_similarity_settings_are_checked_at_start(tmp_path: Path) -> None:
    good = load_settings(environ={}, data_dir=tmp_path,
                         nlp={"similar": {"max_incidents": 50}})
    services = build_services(good, store=DuckDBStore(None))
    assert library_of(services).index.config.max_incidents == 50
    bad = load_settings(environ={}, data_dir=tmp_path, nlp={"similar": {"max_incidnts": 5}})
    with pytest.raises(ConfigError, match=r"nlp\.similar"):
        build_services(bad, store=DuckDBStore(None))
