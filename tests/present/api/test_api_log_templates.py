"""GET /api/v1/log-templates and /api/v1/log-templates/{id}, and `opscope logs templates`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from opscope.present.api.services import Services
from opscope.present.cli.main import app as cli

T0 = 1_714_521_600  # 2024-05-01T00:00:00Z


def _lines() -> list[dict[str, Any]]:
    """cart: 30 checkouts over an hour; web: 10 logins, 2 of them failing (warning)."""
    lines = [{"ts": T0 + 120 * i, "entity": "cart", "level": "info",
              "message": f"checkout order {1000 + i} paid {i * 3}.50 EUR"} for i in range(30)]
    lines += [{"ts": T0 + 300 * i, "entity": "web", "level": "info",
               "message": f"login ok for user{i}"} for i in range(8)]
    lines += [{"ts": T0 + 60 + 300 * i, "entity": "web", "level": "warning",
               "message": f"login failed for uid={100 + i} reason=bad_password"}
              for i in range(2)]
    return lines


@pytest.fixture()
def loaded(client: TestClient, services: Services, writer: dict[str, str]) -> TestClient:
    assert client.post("/api/v1/logs", json=_lines(), headers=writer).status_code == 200
    assert services.bus.drain()
    return client


def _by_template(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["template"]: item for item in items}


def test_templates_need_the_read_scope(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/v1/log-templates").status_code == 401
    ingest_only = {"Authorization": f"Bearer {tokens['ingest']}"}
    assert client.get("/api/v1/log-templates", headers=ingest_only).status_code == 403
    assert client.get("/api/v1/log-templates/T1", headers=ingest_only).status_code == 403


def test_list_with_counts_levels_and_filters(loaded: TestClient,
                                             reader: dict[str, str]) -> None:
    resp = loaded.get("/api/v1/log-templates", headers=reader)
    assert resp.status_code == 200
    items = resp.json()["items"]
    assert [i["count"] for i in items] == [30, 8, 2]
    found = _by_template(items)
    checkout = found["checkout order <*> paid <*> EUR"]
    assert checkout["first_seen"] == "2024-05-01T00:00:00Z"
    assert checkout["last_seen"] == "2024-05-01T00:58:00Z"
    assert checkout["levels"] == {"info": 30}
    assert len(checkout["examples"]) == 5
    web = loaded.get("/api/v1/log-templates", params={"entity": "web"}, headers=reader).json()
    assert sorted(i["count"] for i in web["items"]) == [2, 8]
    failed = loaded.get("/api/v1/log-templates", params={"q": "FAILED"},
                        headers=reader).json()["items"]
    assert [(i["count"], i["levels"]) for i in failed] == [(2, {"warning": 2})]
    recent = loaded.get("/api/v1/log-templates", params={"sort": "last_seen", "limit": 1},
                        headers=reader).json()["items"]
    assert recent[0]["template"] == "checkout order <*> paid <*> EUR"
    window = loaded.get("/api/v1/log-templates", params={
        "start": "2024-05-01T00:00:00Z", "end": "2024-05-01T00:10:00Z"},
        headers=reader).json()["items"]
    assert _by_template(window)["checkout order <*> paid <*> EUR"]["count"] == 5


def test_buckets_and_their_validation(loaded: TestClient, reader: dict[str, str]) -> None:
    items = loaded.get("/api/v1/log-templates", params={"bucket": 1800},
                       headers=reader).json()["items"]
    checkout = _by_template(items)["checkout order <*> paid <*> EUR"]
    assert checkout["buckets"] == [{"ts": "2024-05-01T00:00:00Z", "count": 15},
                                   {"ts": "2024-05-01T00:30:00Z", "count": 15}]
    assert "buckets" not in loaded.get("/api/v1/log-templates",
                                       headers=reader).json()["items"][0]
    bad = loaded.get("/api/v1/log-templates", params={"bucket": 90}, headers=reader)
    assert bad.status_code == 422
    assert loaded.get("/api/v1/log-templates", params={"sort": "name"},
                      headers=reader).status_code == 422
    assert loaded.get("/api/v1/log-templates", params={"bucket": 10},
                      headers=reader).status_code == 422


def test_detail_and_the_logs_of_a_template(loaded: TestClient,
                                           reader: dict[str, str]) -> None:
    items = loaded.get("/api/v1/log-templates", headers=reader).json()["items"]
    login = _by_template(items)["login ok for <*>"]
    resp = loaded.get(f"/api/v1/log-templates/{login['template_id']}",
                      params={"bucket": 3600}, headers=reader)
    assert resp.status_code == 200
    detail = resp.json()
    assert detail["count"] == 8 and detail["levels"] == {"info": 8}
    assert [e["entity"] for e in detail["entities"]] == ["web"]
    assert detail["buckets"] == [{"ts": "2024-05-01T00:00:00Z", "count": 8}]
    assert detail["recent"][0]["message"] == "login ok for user7"
    logs = loaded.get("/api/v1/logs", params={"template_id": login["template_id"]},
                      headers=reader).json()["items"]
    assert len(logs) == 8 and logs[0]["params"] == ["user7"]
    assert loaded.get("/api/v1/log-templates/Tmissing", headers=reader).status_code == 404


def test_cli_prints_the_top_templates(loaded: TestClient, tokens: dict[str, str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    class Borrowed:
        """Stands in for httpx.Client: the running test app, left open on exit."""

        def __init__(self, base_url: str, timeout: float, headers: dict[str, str]) -> None:
            self.headers = headers

        def __enter__(self) -> Borrowed:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def get(self, path: str, params: dict[str, Any]) -> Any:
            return loaded.get(path, params=params, headers=self.headers)

    monkeypatch.setattr(httpx, "Client", Borrowed)
    result = CliRunner().invoke(cli, ["logs", "templates", "--url", "http://testserver",
                                      "--token", tokens["read"], "--entity", "web",
                                      "--top", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "login ok for <*>" in result.output and "info 100%" in result.output
    assert "login failed" not in result.output
