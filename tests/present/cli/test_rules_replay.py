"""``opscope rules test --data-dir``: replay rules over what a server stored."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.present.api.auth import create_token
from opscope.present.cli.main import app

RULES = """
rules:
  - name: page-on-critical
    trigger: {on: [incident.opened]}
    when: 'incident.severity == "critical"'
    actions:
      - kind: webhook
        name: pager
        with: {url: "http://127.0.0.1:9/page", body: {text: "{{ incident.title }}"}}
  - name: note-on-warning
    trigger: {on: [incident.opened]}
    when: 'incident.severity == "warning"'
    actions:
      - {kind: annotate, name: note, with: {text: "looked at"}}
"""


def test_replay_over_a_stopped_servers_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = load_settings(environ={}, data_dir=data)
    services = build_services(settings)
    token = create_token(services.store, ["ingest", "read"])
    headers = {"Authorization": f"Bearer {token}"}
    event = {"source": "nagios", "name": "CheckoutDown", "entity": "checkout",
             "severity": "critical", "starts_at": "2026-11-26T10:00:00Z"}
    with TestClient(create_app(settings, services)) as client:
        assert client.post("/api/v1/events", json=[event], headers=headers).status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not client.get(
                "/api/v1/incidents", headers=headers).json()["items"]:
            time.sleep(0.2)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    result = CliRunner().invoke(app, ["rules", "test", str(rules), "--data-dir", str(data),
                                      "--replay", "2h", "--until", "2026-11-26T11:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "incident.opened" in result.output
    assert "page-on-critical -> pager (webhook)" in result.output
    assert "note-on-warning" not in result.output
    assert "(nothing was run)" in result.output
    neither = CliRunner().invoke(app, ["rules", "test", str(rules)])
    assert neither.exit_code == 2
