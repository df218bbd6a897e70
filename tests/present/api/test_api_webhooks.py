import hashlib
import hmac
from pathlib import Path

from fastapi.testclient import TestClient

from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.store.duckdb import DuckDBStore

FIXTURES = Path(__file__).parents[2] / "fixtures" / "cicd"
GITHUB = (FIXTURES / "github-deployment-status-success.json").read_bytes()
GITLAB = (FIXTURES / "gitlab-deployment-success.json").read_bytes()


def _signed_client(tmp_path: Path, secret: str) -> TestClient:
    settings = load_settings(environ={"OPSCOPE_RECEIVERS__WEBHOOKS__GITHUB_SECRET": secret},
                             data_dir=tmp_path)
    services = build_services(settings, store=DuckDBStore(None))
    return TestClient(create_app(settings, services))


def _changes(client: TestClient, reader: dict[str, str]) -> list[dict[str, object]]:
    answer = client.get("/api/v1/changes", headers=reader)
    assert answer.status_code == 200
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def test_a_signed_github_delivery_is_stored_once(tmp_path: Path) -> None:
    signature = "sha256=" + hmac.new(b"hook-secret", GITHUB, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "deployment_status", "X-Hub-Signature-256": signature,
               "Content-Type": "application/json"}
    with _signed_client(tmp_path, "hook-secret") as client:
        first = client.post("/api/v1/webhooks/github", content=GITHUB, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json()["inserted"] == 1 and first.json()["note"] == "deploy succeeded"
        # GitHub redelivers on a timeout: the record is not doubled.
        again = client.post("/api/v1/webhooks/github", content=GITHUB, headers=headers)
        assert again.json()["inserted"] == 0
        wrong = client.post("/api/v1/webhooks/github", content=GITHUB + b" ",
                            headers=headers)
        assert wrong.status_code == 401
        assert "X-Hub-Signature-256" in wrong.json()["message"]
        unsigned = client.post("/api/v1/webhooks/github", content=GITHUB,
                               headers={"X-GitHub-Event": "deployment_status"})
        assert unsigned.status_code == 401


def test_without_a_secret_the_github_endpoint_takes_a_bearer_token(
        client: TestClient, writer: dict[str, str], reader: dict[str, str]) -> None:
    event = {"X-GitHub-Event": "deployment_status"}
    assert client.post("/api/v1/webhooks/github", content=GITHUB, headers=event
                       ).status_code == 401
    answer = client.post("/api/v1/webhooks/github", content=GITHUB, headers={**event, **writer})
    assert answer.status_code == 200, answer.text
    [stored] = _changes(client, reader)
    assert stored["entity"] == "checkout" and stored["kind"] == "deploy"
    ping = client.post("/api/v1/webhooks/github", content=b'{"zen": "x"}',
                       headers={"X-GitHub-Event": "ping", **writer})
    assert ping.status_code == 200 and ping.json()["accepted"] == 0
    form = client.post("/api/v1/webhooks/github", content=b"payload=%7B%7D",
                       headers={**event, **writer,
                                "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415 and "JSON content type" in form.json()["message"]


def test_a_gitlab_delivery_authenticates_with_its_secret_token(
        client: TestClient, tokens: dict[str, str], reader: dict[str, str]) -> None:
    event = {"X-Gitlab-Event": "Deployment Hook"}
    assert client.post("/api/v1/webhooks/gitlab", content=GITLAB,
                       headers={**event, "X-Gitlab-Token": "ops_nope_nope"}).status_code == 401
    assert client.post("/api/v1/webhooks/gitlab", content=GITLAB,
                       headers={**event, "X-Gitlab-Token": tokens["read"]}).status_code == 403
    answer = client.post("/api/v1/webhooks/gitlab", content=GITLAB,
                         headers={**event, "X-Gitlab-Token": tokens["ingest"]})
    assert answer.status_code == 200, answer.text
    [stored] = _changes(client, reader)
    assert stored["entity"] == "payments" and stored["version"] == "a91c3e2f"


def test_a_broken_delivery_is_refused_with_the_field_named(
        client: TestClient, writer: dict[str, str]) -> None:
    answer = client.post("/api/v1/webhooks/github", content=b'{"deployment_status": {}}',
                         headers={"X-GitHub-Event": "deployment_status", **writer})
    assert answer.status_code == 422
    fields = {p["field"] for p in answer.json()["problems"]}
    assert {"deployment", "repository"} <= fields
    bad_json = client.post("/api/v1/webhooks/gitlab", content=b"{not json",
                           headers={"X-Gitlab-Event": "Deployment Hook", **writer})
    assert bad_json.status_code == 422 and "malformed JSON" in bad_json.json()["message"]
