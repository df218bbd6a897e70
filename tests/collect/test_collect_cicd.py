import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opscope.collect.cicd import github_signature_ok, parse_github, parse_gitlab

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cicd"
NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def _doc(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_a_github_deployment_status_becomes_a_deploy() -> None:
    result, note = parse_github("deployment_status",
                                _doc("github-deployment-status-success.json"), NOW)
    assert result.ok and note == "deploy succeeded"
    [change] = result.items
    assert change.entity == "checkout" and change.kind == "deploy"
    assert change.version == "4f2d9c0a1b7e" and change.author == "deploy-bot"
    assert change.ts == datetime(2026, 11, 20, 14, 3, 41, tzinfo=UTC)
    assert change.id == "github/acme/checkout/deployment/1187/success"
    assert change.description == ("deploy of v2.14.0 to production succeeded: "
                                  "Deployment finished successfully.")
    assert change.labels["environment"] == "production"
    assert change.labels["url"].endswith("/actions/runs/9876543210")


def test_a_deployment_payload_names_the_service() -> None:
    doc = _doc("github-deployment-status-success.json")
    doc["deployment"]["payload"] = {"service": "cart"}
    result, _ = parse_github("deployment_status", doc, NOW)
    assert result.items[0].entity == "cart"


@pytest.mark.parametrize(("state", "recorded"), [
    ("in_progress", True), ("success", True), ("failure", True), ("error", True),
    ("queued", False), ("pending", False), ("inactive", False),
])
def test_only_states_that_change_what_runs_are_recorded(state: str, recorded: bool) -> None:
    doc = _doc("github-deployment-status-success.json")
    doc["deployment_status"]["state"] = state
    result, note = parse_github("deployment_status", doc, NOW)
    assert result.ok
    assert bool(result.items) is recorded, note


def test_other_github_events_are_acknowledged_without_a_record() -> None:
    assert parse_github("ping", {"zen": "Keep it logically awesome."}, NOW)[0].items == []
    result, note = parse_github("push", {"ref": "refs/heads/main"}, NOW)
    assert result.ok and not result.items and "record nothing" in note


def test_a_malformed_delivery_names_what_is_wrong() -> None:
    doc = _doc("github-deployment-status-success.json")
    broken = copy.deepcopy(doc)
    broken["deployment"] = "1187"
    result, _ = parse_github("deployment_status", broken, NOW)
    assert [p.field for p in result.problems] == ["deployment"]
    no_state = copy.deepcopy(doc)
    no_state["deployment_status"]["state"] = ""
    assert [p.field for p in parse_github("deployment_status", no_state, NOW)[0].problems] \
        == ["deployment_status.state"]
    bad_time = copy.deepcopy(doc)
    bad_time["deployment_status"]["updated_at"] = "yesterday"
    assert [p.field for p in parse_github("deployment_status", bad_time, NOW)[0].problems] \
        == ["ts"]


def test_the_github_signature_is_the_hmac_of_the_body() -> None:
    body = b'{"zen": "Design for failure."}'
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert github_signature_ok("s3cret", body, good)
    assert not github_signature_ok("other", body, good)
    assert not github_signature_ok("s3cret", body + b" ", good)
    assert not github_signature_ok("s3cret", body, None)
    assert not github_signature_ok("s3cret", body, good.replace("sha256=", "sha1="))


def test_a_gitlab_deployment_event_becomes_a_deploy() -> None:
    result, note = parse_gitlab("Deployment Hook", _doc("gitlab-deployment-success.json"), NOW)
    assert result.ok and note == "deploy succeeded"
    [change] = result.items
    assert (change.entity, change.version, change.author) == ("payments", "a91c3e2f", "jberg")
    assert change.ts == datetime(2026, 11, 20, 14, 12, 9, tzinfo=UTC)
    assert change.id == "gitlab/shop/payments/deployment/4411/success"
    assert change.description.endswith("succeeded: Raise the connection pool to 40")


def test_gitlab_events_other_than_deployments_record_nothing() -> None:
    result, note = parse_gitlab("Push Hook", {"object_kind": "push"}, NOW)
    assert not result.items and "record nothing" in note
    doc = _doc("gitlab-deployment-success.json")
    doc["status"] = "canceled"
    assert not parse_gitlab("Deployment Hook", doc, NOW)[0].items
