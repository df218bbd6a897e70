"""The reactions API: auth, executions, approvals by API call and by signed link, rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.model.events import Severity
from opscope.model.incident import ChangeKind, Incident, IncidentChange, IncidentStatus
from opscope.present.api.auth import create_token
from opscope.present.api.services import Services
from opscope.sim.slack_receiver import SlackReceiver
from opscope.store.duckdb import DuckDBStore

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

RULES = """\
version: 1
rules:
  - name: to-slack
    trigger: {on: [incident.opened, incident.updated]}
    actions:
      - kind: slack
        name: chan
        with: {mode: api, api_url: "${SLACK_URL}", token: xoxb-t, channel: C1}
  - name: fix-it
    trigger: {on: [incident.opened]}
    policies: {approval: {ttl: 30m}}
    actions:
      - kind: runbook
        name: restart
        with: {program: fix.sh, args: ["{{ incident.id }}"]}
  - name: missing
    trigger: {on: [event]}
    actions: [{kind: runbook, name: nope, with: {program: not-there.sh}}]
"""


@dataclass
class App:
    client: TestClient
    services: Services
    slack: SlackReceiver
    runbooks: Path
    headers: dict[str, dict[str, str]]


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[App]:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    script = runbooks / "fix.sh"
    script.write_text('#!/bin/sh\necho "fixed $1"\necho "$1" >> ran.txt\n')
    script.chmod(0o755)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    with SlackReceiver() as slack:
        settings = load_settings(environ={}, data_dir=tmp_path / "data", reactions={
            "rules_paths": [str(rules)], "runbook_dir": str(runbooks),
            "variables": {"SLACK_URL": slack.url}})
        services = build_services(settings, store=DuckDBStore(None))
        headers = {
            scope: {"Authorization": f"Bearer {create_token(services.store, [scope], scope)}"}
            for scope in ("ingest", "read", "admin")}
        with TestClient(create_app(settings, services)) as client:
            yield App(client, services, slack, runbooks, headers)


def opened(incident_id: str = "inc-1") -> IncidentChange:
    incident = Incident(id=incident_id, status=IncidentStatus.OPEN, title="db is down",
                        severity=Severity.ERROR, opened_at=T0, updated_at=T0,
                        entities=["db"], signal_count=1, firing_count=1)
    return IncidentChange(seq=1, kind=ChangeKind.OPENED, ts=T0, incident=incident)


def publish(app: App, change: IncidentChange) -> None:
    app.services.bus.publish("incidents", [change])
    assert app.services.bus.drain()


def pending(app: App) -> list[dict[str, object]]:
    answer = app.client.get("/api/v1/approvals", params={"state": "pending"},
                            headers=app.headers["read"])
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


@pytest.mark.parametrize(("method", "path", "scope", "status"), [
    ("get", "/api/v1/executions", None, 401),
    ("get", "/api/v1/executions", "ingest", 403),
    ("get", "/api/v1/executions", "read", 200),
    ("get", "/api/v1/approvals", None, 401),
    ("get", "/api/v1/rules", "read", 200),
    ("post", "/api/v1/approvals/x/approve", "read", 403),
    ("post", "/api/v1/approvals/x/reject", "ingest", 403),
    ("post", "/api/v1/approvals/x/approve", "admin", 404),
    ("get", "/api/v1/approvals/x/link", "read", 403),
])
def test_scopes(app: App, method: str, path: str, scope: str | None, status: int) -> None:
    headers = app.headers[scope] if scope else {}
    assert app.client.request(method, path, headers=headers).status_code == status


def test_approve_with_the_api_runs_the_runbook_once(app: App) -> None:
    publish(app, opened())
    assert len(app.slack.history) == 1
    assert not (app.runbooks / "ran.txt").exists()
    [request] = pending(app)
    answer = app.client.post(f"/api/v1/approvals/{request['id']}/approve",
                             headers=app.headers["admin"])
    assert answer.status_code == 200, answer.text
    execution = answer.json()["execution"]
    assert execution["status"] == "succeeded" and execution["approved_by"] == "admin"
    assert execution["output"] == "fixed inc-1\n"
    assert (app.runbooks / "ran.txt").read_text() == "inc-1\n"
    again = app.client.post(f"/api/v1/approvals/{request['id']}/approve",
                            headers=app.headers["admin"])
    assert again.status_code == 422 and "already approved" in again.json()["message"]
    assert pending(app) == []


def test_reject_with_the_api(app: App) -> None:
    publish(app, opened())
    [request] = pending(app)
    answer = app.client.post(f"/api/v1/approvals/{request['id']}/reject",
                             headers=app.headers["admin"])
    assert answer.json()["execution"]["status"] == "rejected"
    assert not (app.runbooks / "ran.txt").exists()


def test_signed_link_shows_then_decides(app: App) -> None:
    publish(app, opened())
    [request] = pending(app)
    link = app.client.get(f"/api/v1/approvals/{request['id']}/link",
                          params={"approver": "bob"}, headers=app.headers["admin"]).json()
    parts = urlsplit(link["url"])
    assert parts.path == "/api/v1/approvals/decide"
    token = parse_qs(parts.query)["token"][0]
    page = app.client.get("/api/v1/approvals/decide", params={"token": token})
    assert page.status_code == 200 and "Approve as bob" in page.text
    assert "fix-it" in page.text and len(pending(app)) == 1  # showing decides nothing
    done = app.client.post("/api/v1/approvals/decide", data={"token": token})
    assert done.status_code == 200 and "succeeded" in done.text, done.text
    assert "fixed inc-1" in done.text and "bob" in done.text
    assert (app.runbooks / "ran.txt").read_text() == "inc-1\n"
    replay = app.client.post("/api/v1/approvals/decide", data={"token": token})
    assert replay.status_code == 409
    forged = app.client.post("/api/v1/approvals/decide", data={"token": token[:-3] + "AAA"})
    assert forged.status_code == 403
    shown = app.client.get("/api/v1/approvals/decide", params={"token": "x" * 20})
    assert shown.status_code in (400, 403) and "<form" not in shown.text


def test_executions_listing_filters_and_pages(app: App) -> None:
    publish(app, opened("inc-1"))
    publish(app, opened("inc-2"))
    read = app.headers["read"]
    everything = app.client.get("/api/v1/executions", headers=read).json()
    assert len(everything["items"]) == 4
    held = app.client.get("/api/v1/executions", params={"status": "pending_approval"},
                          headers=read).json()["items"]
    assert {e["subject"] for e in held} == {"inc-1", "inc-2"}
    assert {e["rule"] for e in held} == {"fix-it"}
    first = app.client.get("/api/v1/executions", params={"rule": "to-slack", "limit": 1},
                           headers=read).json()
    rest = app.client.get("/api/v1/executions", params={
        "rule": "to-slack", "limit": 1, "cursor": first["next_cursor"]}, headers=read).json()
    assert [e["subject"] for e in first["items"] + rest["items"]] == ["inc-2", "inc-1"]
    one = app.client.get(f"/api/v1/executions/{held[0]['id']}", headers=read).json()
    assert one["inputs"]["args"] == [held[0]["subject"]]
    assert app.client.get("/api/v1/executions", params={"status": "nope"},
                          headers=read).status_code == 422


def test_rules_and_their_problems(app: App) -> None:
    body = app.client.get("/api/v1/rules", headers=app.headers["read"]).json()
    assert [r["name"] for r in body["rules"]] == ["to-slack", "fix-it", "missing"]
    fix = body["rules"][1]
    assert fix["actions"] == [{"name": "restart", "kind": "runbook",
                               "target": "runbook:fix.sh", "approval": True,
                               "dry_run": False}]
    assert len(body["problems"]) == 1 and "not-there.sh" in body["problems"][0]


def test_rule_sets_through_the_api(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path)
    services = build_services(settings, store=DuckDBStore(None))
    admin = {"Authorization": f"Bearer {create_token(services.store, ['admin'], 'ops')}"}
    reader = {"Authorization": f"Bearer {create_token(services.store, ['read'], 'viewer')}"}
    doc = {"rules": [{
        "name": "page-on-critical",
        "trigger": {"on": ["incident.opened"]},
        "when": 'incident.severity == "critical"',
        "actions": [{"kind": "annotate", "name": "note", "with": {"text": "paged"}}],
    }]}
    with TestClient(create_app(settings, services)) as client:
        assert client.put("/api/v1/rules/sets/paging", json=doc,
                          headers=reader).status_code == 403
        resp = client.put("/api/v1/rules/sets/paging", json=doc, headers=admin)
        assert resp.status_code == 200, resp.text
        assert resp.json()["rules"] == ["page-on-critical"]
        names = [r["name"] for r in client.get("/api/v1/rules", headers=reader).json()["rules"]]
        assert "page-on-critical" in names
        broken = {"rules": [{"name": "x", "trigger": {"on": ["incident.opened"]},
                             "when": "incident.severity ==", "actions": []}]}
        bad = client.put("/api/v1/rules/sets/broken", json=broken, headers=admin)
        assert bad.status_code == 422
        assert bad.json()["problems"]
        assert not (tmp_path / "rules" / "broken.rules.json").exists()
        assert client.delete("/api/v1/rules/sets/paging", headers=admin).status_code == 200
        names = [r["name"] for r in client.get("/api/v1/rules", headers=reader).json()["rules"]]
        assert "page-on-critical" not in names
        assert client.delete("/api/v1/rules/sets/paging", headers=admin).status_code == 404
