from __future__ import annotations

import base64

import pytest
from react_kit import Received, Receiver, Reply, incident_trigger, make_engine

from opscope.model.execution import ExecutionStatus


def ticket_system(receiver: Receiver) -> None:
    def answer(req: Received) -> Reply:
        body = req.json()
        if req.path == "/rest/api/2/issue":
            fields = body["fields"]
            missing = [k for k in ("project", "summary", "issuetype") if k not in fields]
            if missing:
                return (400, {"errors": {k: "required" for k in missing}}, {})
            return (
                201,
                {"id": "10042", "key": "OPS-42", "self": f"{receiver.url}/rest/api/2/issue/10042"},
                {},
            )
        if req.path == "/api/now/table/incident":
            if not body.get("short_description"):
                return (400, {"error": {"message": "short_description required"}}, {})
            return (
                201,
                {
                    "result": {
                        "sys_id": "9d385017c611228701d22104cc95c371",
                        "number": "INC0010042",
                        **body,
                    }
                },
                {},
            )
        return (404, {}, {})

    receiver.default = answer


def _rules(url: str) -> str:
    return f"""
rules:
  - name: tickets
    trigger: {{on: [incident.opened, incident.updated]}}
    actions:
      - kind: jira
        with:
          base_url: "{url}"
          project: OPS
          username: bot@example.org
          token_env: OPSCOPE_TEST_JIRA
          priority: >-
            {{{{ 'Highest' if incident.severity == 'critical' else 'Medium' }}}}
      - kind: servicenow
        with: {{base_url: "{url}", username: svc, token_env: OPSCOPE_TEST_SNOW,
                assignment_group: "{{{{ incident.labels.team }}}}"}}
"""


def test_jira_and_servicenow_tickets_return_their_ids(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_system(receiver)
    monkeypatch.setenv("OPSCOPE_TEST_JIRA", "jira-token")
    monkeypatch.setenv("OPSCOPE_TEST_SNOW", "snow-pass")
    engine, _, _ = make_engine(_rules(receiver.url))
    jira, snow = engine.handle(incident_trigger())
    assert jira.status is snow.status is ExecutionStatus.SUCCEEDED
    assert jira.result == {
        "system": "jira",
        "ticket_id": "10042",
        "ticket_key": "OPS-42",
        "url": f"{receiver.url}/browse/OPS-42",
    }
    assert snow.result["ticket_key"] == "INC0010042"
    assert snow.result["ticket_id"] == "9d385017c611228701d22104cc95c371"
    jira_req, snow_req = receiver.requests
    fields = jira_req.json()["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Incident"}
    assert fields["priority"] == {"name": "Highest"}
    assert fields["summary"] == "checkout latency above SLO"
    assert (
        jira_req.headers["authorization"]
        == "Basic " + base64.b64encode(b"bot@example.org:jira-token").decode()
    )
    snow_body = snow_req.json()
    assert snow_body["urgency"] == snow_body["impact"] == "1"
    assert snow_body["correlation_id"] == "inc-0042"
    assert snow_body["assignment_group"] == "payments"
    # A later version of the same incident does not open a second ticket.
    again = engine.handle(incident_trigger("incident.updated", version=2))
    assert [e.result["ticket_key"] for e in again] == ["OPS-42", "INC0010042"]
    assert all(e.result["existing"] for e in again)
    assert len(receiver.requests) == 2
