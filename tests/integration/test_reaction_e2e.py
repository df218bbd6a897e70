"""Reactions end to end, in process, with the bundled demo rules and runbooks.

An incident change published on the bus topic ``incidents`` (as the incident stage does
after storing the change and ranking its root causes) reaches the reaction stage; the
local Slack-shaped receiver gets one message, edited as the incident evolves; the
approval-gated runbook runs only after ``POST /api/v1/approvals/{id}/approve``, and the
execution is listed by ``GET /api/v1/executions``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.model.events import Severity
from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import ChangeKind, Incident, IncidentChange, IncidentStatus
from opscope.present.api.auth import create_token
from opscope.present.api.services import Services
from opscope.sim.slack_receiver import SlackReceiver
from opscope.store.duckdb import DuckDBStore

ROOT = Path(__file__).parents[2]
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def change(seq: int, kind: ChangeKind, status: IncidentStatus = IncidentStatus.OPEN,
           signals: int = 2) -> IncidentChange:
    at = T0 + timedelta(minutes=seq)
    incident = Incident(id="inc-42", status=status, title="checkout is slow",
                        severity=Severity.ERROR, opened_at=T0, updated_at=at,
                        resolved_at=at if status is IncidentStatus.RESOLVED else None,
                        entities=["cart", "checkout"], root_candidates=["cart"],
                        signal_count=signals, firing_count=signals)
    return IncidentChange(seq=seq, kind=kind, ts=at, incident=incident)


@pytest.fixture()
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


@pytest.fixture()
def services(tmp_path: Path, slack: SlackReceiver) -> Services:
    settings = load_settings(environ={}, data_dir=tmp_path, reactions={
        "rules_paths": [str(ROOT / "examples" / "rules" / "demo.yaml")],
        "runbook_dir": str(ROOT / "examples" / "runbooks"),
        "variables": {"OPSCOPE_DEMO_SLACK_URL": slack.url}})
    return build_services(settings, store=DuckDBStore(None))


def test_incident_to_slack_and_an_approved_runbook(services: Services,
                                                   slack: SlackReceiver) -> None:
    store, bus = services.store, services.bus
    read = {"Authorization": f"Bearer {create_token(store, ['read'], 'viewer')}"}
    admin = {"Authorization": f"Bearer {create_token(store, ['admin'], 'alice')}"}

    def publish(item: IncidentChange) -> None:
        store.write_changes([item])  # what the incident stage does before publishing
        bus.publish("incidents", [item])
        assert bus.drain()

    def executions(**params: Any) -> list[dict[str, Any]]:
        answer = client.get("/api/v1/executions", params=params, headers=read)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    with TestClient(create_app(services.settings, services)) as client:
        assert client.get("/api/v1/rules", headers=read).json()["problems"] == []
        opened = change(1, ChangeKind.OPENED)
        store.write_changes([opened])
        store.write_hypotheses("inc-42", T0, [Hypothesis(
            entity="cart", signal="memory_usage_bytes", score=4.0, rank=1,
            reason="Rank 1: its memory_usage_bytes moved 8.2 robust sigmas from normal.")])
        publish(opened)

        assert [m.method for m in slack.history] == ["chat.postMessage"]
        text = str(slack.history[0].blocks)
        assert "CHECKOUT IS SLOW" in text.upper() and "memory_usage_bytes" in text
        [held] = executions(status="pending_approval")
        assert held["rule"] == "restart-on-memory-leak"
        assert held["inputs"]["args"] == ["--service", "cart", "--incident", "inc-42"]
        assert executions(rule="restart-on-memory-leak", status="succeeded") == []

        publish(change(2, ChangeKind.UPDATED, signals=3))
        publish(opened)  # a replayed change is recognised: nothing is sent again
        publish(change(3, ChangeKind.RESOLVED, status=IncidentStatus.RESOLVED))
        assert [m.method for m in slack.history] == [
            "chat.postMessage", "chat.update", "chat.update"]
        assert {m.ts for m in slack.history} == {slack.history[0].ts}
        assert "resolved" in str(slack.history[-1].blocks)

        [request] = client.get("/api/v1/approvals", params={"state": "pending"},
                               headers=read).json()["items"]
        answer = client.post(f"/api/v1/approvals/{request['id']}/approve", headers=admin)
        assert answer.status_code == 200, answer.text
        ran = answer.json()["execution"]
        assert ran["status"] == "succeeded" and ran["approved_by"] == "alice"
        assert ran["output"].endswith("service cart restarted\n")

        [listed] = executions(rule="restart-on-memory-leak", status="succeeded")
        assert listed["id"] == ran["id"] and listed["approval_id"] == request["id"]
        notes = [a for a in client.get("/api/v1/incidents/inc-42", headers=read).json()[
            "actions"] if a["action"] == "note"]
        assert len(notes) == 3 and "C0DEMO" in notes[0]["detail"]["text"]
    assert len(slack.history) == 3


def test_alerts_posted_to_the_api_open_an_incident_that_reaches_slack_once(
        services: Services, slack: SlackReceiver) -> None:
    writer = {"Authorization": f"Bearer {create_token(services.store, ['ingest'], 'am')}"}
    alert = {"source": "am", "fingerprint": "f-down", "name": "ServiceDown",
             "severity": "critical", "entity": "payments", "summary": "payments is down",
             "starts_at": T0.isoformat()}
    with TestClient(create_app(services.settings, services)) as client:
        for _ in range(2):  # the repeat folds into the same alert and the same incident
            answer = client.post("/api/v1/events", json=[alert], headers=writer)
            assert answer.status_code < 300, answer.text
            assert services.bus.drain() and services.bus.drain()
    assert [m.method for m in slack.history] == ["chat.postMessage"]
    assert "payments" in str(slack.history[0].blocks)
