"""GET /api/v1/patterns: the pattern discovery of ``opscope patterns`` over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from opscope.present.api.services import Services

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _alerts(day: int, status: str = "firing") -> list[dict[str, Any]]:
    at = START + timedelta(days=day)
    extra = {"ends_at": (at + timedelta(minutes=2)).isoformat()} if status == "resolved" else {}
    return [{"source": "am", "name": "HighLatency", "entity": e, "status": status,
             "starts_at": at.isoformat(), "fingerprint": f"{e}-{day}", **extra}
            for e in ("web", "api")]


def test_patterns_find_the_incident_that_recurs(client: TestClient, services: Services,
                                                writer: dict[str, str],
                                                reader: dict[str, str]) -> None:
    topology = client.post("/api/v1/topology", headers=writer, json={
        "entities": [{"id": "web"}, {"id": "api"}],
        "relations": [{"source": "web", "target": "api"}]})
    assert topology.status_code == 200, topology.text
    for day in range(3):  # the same pair of alerts on three days
        for status in ("firing", "resolved"):
            answer = client.post("/api/v1/events", json=_alerts(day, status), headers=writer)
            assert answer.status_code == 200, answer.text
    assert services.bus.drain()
    found = client.get("/api/v1/patterns", params={"start": "2026-03-01T00:00:00Z"},
                       headers=reader).json()
    assert (found["alerts"], found["incidents"], found["truncated"]) == (6, 3, False)
    [recurring] = found["recurring_incidents"]
    assert recurring["count"] == 3
    assert set(found) >= {"co_occurring", "sequences", "periodic_alerts", "idle_alerts"}
    capped = client.get("/api/v1/patterns", params={"start": "2026-03-01T00:00:00Z",
                                                    "max_events": 2}, headers=reader).json()
    assert capped["alerts"] == 2 and capped["truncated"] is True
    # Nothing in the last seven days, the default stretch.
    recent = client.get("/api/v1/patterns", headers=reader).json()
    assert (recent["alerts"], recent["incidents"]) == (0, 0)


def test_patterns_validate_their_parameters(client: TestClient,
                                            reader: dict[str, str]) -> None:
    assert client.get("/api/v1/patterns").status_code == 401
    bad = client.get("/api/v1/patterns", params={"max_events": 0}, headers=reader)
    assert bad.status_code == 422
    assert client.get("/api/v1/patterns", params={"start": "yesterday-ish"},
                      headers=reader).status_code == 422
