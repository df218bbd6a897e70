"""From HTTP log ingest to a stored new-template anomaly, through the in-process app.

The analyzer runs with its default settings (an hour and 1,000 lines of warm-up), fed
with event timestamps: an hour and a half of a normal stream, then a pattern never seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.errors import ConfigError
from opscope.present.api.auth import create_token
from opscope.present.api.services import Services
from opscope.store.duckdb import DuckDBStore

T0 = 1_717_200_000  # 2024-06-01T00:00:00Z
NORMAL_LINES = 1350  # one every 4 s: 90 minutes
FAILURE = "ERROR payment gateway timeout after 30000 ms for order 88412"


def normal_stream(start: int, count: int) -> list[dict[str, Any]]:
    shapes = (
        "GET /api/cart/{i} 200 in {ms} ms",
        "user {user} added item sku-{i} to cart",
        "cache hit ratio {ratio} for shard {shard}",
    )
    lines = []
    for i in range(start, start + count):
        message = shapes[i % 3].format(i=i, ms=i % 97, user=f"u{i % 13}", ratio=i % 100,
                                       shard=i % 8)
        lines.append({"ts": T0 + 4 * i, "entity": "checkout", "level": "info",
                      "message": message})
    return lines


@contextmanager
def running(data_dir: Path, database: Path | None) -> Iterator[tuple[TestClient, Services,
                                                                     dict[str, str]]]:
    settings = load_settings(environ={}, data_dir=data_dir)
    services = build_services(settings, store=DuckDBStore(database))
    token = create_token(services.store, ["ingest", "read"], "e2e")
    with TestClient(create_app(settings, services)) as client:
        yield client, services, {"Authorization": f"Bearer {token}"}


def send(client: TestClient, headers: dict[str, str], lines: list[dict[str, Any]]) -> None:
    for i in range(0, len(lines), 250):
        resp = client.post("/api/v1/logs", json=lines[i:i + 250], headers=headers)
        assert resp.status_code == 200, resp.text


def new_template_anomalies(client: TestClient, headers: dict[str, str]) -> list[Any]:
    resp = client.get("/api/v1/anomalies", params={"kind": "log_new_template"},
                      headers=headers)
    assert resp.status_code == 200
    items: list[Any] = resp.json()["items"]
    return items


def test_a_new_error_pattern_becomes_a_log_anomaly(tmp_path: Path) -> None:
    with running(tmp_path, None) as (client, services, headers):
        seen_on_bus: list[Any] = []
        services.bus.subscribe("anomalies", "e2e-listener", seen_on_bus.extend)
        send(client, headers, normal_stream(0, NORMAL_LINES))
        assert services.bus.drain()
        assert new_template_anomalies(client, headers) == []

        failure = {"ts": T0 + 4 * NORMAL_LINES + 2, "entity": "checkout", "message": FAILURE}
        send(client, headers, [*normal_stream(NORMAL_LINES, 10), failure])
        assert services.bus.drain()

        found = new_template_anomalies(client, headers)
        assert len(found) == 1
        anomaly = found[0]
        assert anomaly["entity"] == "checkout"
        assert anomaly["ts"] == "2024-06-01T01:30:02Z"
        assert anomaly["evidence"]["examples"] == [FAILURE]
        assert "payment gateway timeout" in anomaly["evidence"]["template"]
        assert [a.id for a in seen_on_bus if a.kind == "log_new_template"] == [anomaly["id"]]

        template_id = anomaly["subject"]
        logs = client.get("/api/v1/logs", params={"template_id": template_id},
                          headers=headers).json()["items"]
        assert [(r["message"], r["level"]) for r in logs] == [(FAILURE, "error")]
        detail = client.get(f"/api/v1/log-templates/{template_id}", headers=headers).json()
        assert detail["count"] == 1 and detail["levels"] == {"error": 1}
        counts = client.get("/api/v1/log-templates", headers=headers).json()["items"]
        assert sum(t["count"] for t in counts) == NORMAL_LINES + 11


def test_template_ids_survive_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "opscope.duckdb"
    with running(tmp_path, database) as (client, services, headers):
        send(client, headers, normal_stream(0, NORMAL_LINES))
        assert services.bus.drain()
        before = {t["template"]: t["template_id"] for t in client.get(
            "/api/v1/log-templates", headers=headers).json()["items"]}
    assert (tmp_path / "log-analysis.json").exists()

    with running(tmp_path, database) as (client, services, headers):
        stage = services.extras["log_analysis"]
        assert stage.seq == NORMAL_LINES and not (tmp_path / "log-analysis.json.old").exists()
        send(client, headers, normal_stream(NORMAL_LINES, 30))
        assert services.bus.drain()
        latest = client.get("/api/v1/logs", params={"limit": 30},
                            headers=headers).json()["items"]
        assert {r["template_id"] for r in latest} <= set(before.values())
        assert all(r["template_id"] for r in latest)
        after = {t["template"]: t["template_id"] for t in client.get(
            "/api/v1/log-templates", headers=headers).json()["items"]}
        assert after == before
        # Still past its warm-up (a fresh analyzer would learn silently for an hour).
        failure = {"ts": T0 + 4 * (NORMAL_LINES + 30), "entity": "checkout",
                   "message": FAILURE}
        send(client, headers, [failure])
        assert services.bus.drain()
        assert [a["evidence"]["examples"] for a in new_template_anomalies(
            client, headers)] == [[FAILURE]]


def test_bad_analyzer_settings_are_refused_at_start(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path,
                             log_analysis={"analyzer": {"miner": {"similarity": 2}}})
    with pytest.raises(ConfigError, match=r"log_analysis\.analyzer"):
        build_services(settings, store=DuckDBStore(None))


def test_analysis_progress_is_visible_in_the_server_metrics(tmp_path: Path) -> None:
    with running(tmp_path, None) as (client, services, headers):
        send(client, headers, normal_stream(0, 40))
        assert services.bus.drain()
        text = client.get("/metrics").text
        assert "opscope_log_analysis_lines 40" in text
