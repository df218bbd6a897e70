"""The event view renders real events and logs in a real headless Chromium."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from browser import dump_dom, needs_chromium

from integration.server_process import ServerProcess, make_token

pytestmark = needs_chromium


def test_event_view_shows_stored_events_and_logs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = make_token(data, "ingest", "read")
    server = ServerProcess(data).start()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        event = {"source": "nagios", "name": "DiskAlmostFull", "entity": "db-7",
                 "severity": "critical", "starts_at": "2026-11-26T10:00:00Z",
                 "summary": "<b>/var</b> at 97%"}
        assert httpx.post(server.url + "/api/v1/events", json=[event], headers=headers,
                          timeout=10).status_code == 200
        logs = [{"message": "vacuum finished on table orders in 812 ms", "entity": "db-7",
                 "level": "warning", "ts": "2026-11-26T10:00:01Z"}]
        assert httpx.post(server.url + "/api/v1/logs", json=logs, headers=headers,
                          timeout=10).status_code == 200
        dom = dump_dom(f"{server.url}/events#token={token}", tmp_path / "profile")
    finally:
        server.stop()
    assert "DiskAlmostFull" in dom
    assert "vacuum finished on table orders" in dom
    # Data is rendered as text, never as markup.
    assert "&lt;b&gt;/var&lt;/b&gt; at 97%" in dom
    assert "<b>/var</b>" not in dom


def test_incident_pages_show_the_incident_and_its_signals(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = make_token(data, "ingest", "read")
    server = ServerProcess(data).start()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        event = {"source": "nagios", "name": "CheckoutDown", "entity": "checkout",
                 "severity": "critical", "starts_at": "2026-11-26T10:00:00Z",
                 "summary": "checkout answers 5xx"}
        assert httpx.post(server.url + "/api/v1/events", json=[event], headers=headers,
                          timeout=10).status_code == 200
        incidents: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while not incidents and time.monotonic() < deadline:
            incidents = httpx.get(server.url + "/api/v1/incidents", headers=headers,
                                  timeout=10).json()["items"]
            time.sleep(0.3)
        assert incidents, "a critical alert opens an incident"
        incident_id = str(incidents[0]["id"])
        listing = dump_dom(f"{server.url}/incidents#token={token}", tmp_path / "p1")
        page = dump_dom(f"{server.url}/incidents/{incident_id}#token={token}", tmp_path / "p2")
    finally:
        server.stop()
    assert f'href="/incidents/{incident_id}"' in listing
    assert "CheckoutDown" in page and "checkout" in page
    assert "entities: checkout" in page
