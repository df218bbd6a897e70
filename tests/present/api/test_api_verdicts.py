"""``POST /api/v1/anomalies/{id}/verdict`` and ``GET /api/v1/anomalies/{id}``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from opscope.analyze.metrics.stage import MetricAnalysisStage
from opscope.model import Anomaly, MetricSample
from opscope.present.api.services import Services

T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAY = 288


def _metric_anomaly(client: TestClient, services: Services,
                    reader: dict[str, str]) -> dict[str, Any]:
    """Six days of a daily series with a burst of ten minutes at night: the stage finds
    and stores it; the operator finds it in the anomaly list."""
    stage = services.extras["metric_analysis"]
    assert isinstance(stage, MetricAnalysisStage)
    rng = np.random.default_rng(3)
    i = np.arange(6 * DAY)
    values = 50 + 20 * np.sin(2 * np.pi * i / DAY) + rng.normal(0, 1, i.shape[0])
    burst = 5 * DAY + 3 * DAY // 4
    values[burst : burst + 2] += 25.0
    found: list[Anomaly] = []
    for start in range(0, len(values), DAY):
        found += stage.process([
            MetricSample(name="queue_depth", labels={"queue": "mail"}, value=float(v),
                         ts=T0 + timedelta(minutes=5 * (start + k)))
            for k, v in enumerate(values[start : start + DAY])])
    assert found
    listed = client.get("/api/v1/anomalies", params={"kind": "metric"}, headers=reader)
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    assert len(items) == len(found)
    return items[0]


def test_a_false_alarm_is_kept_and_learnt(client: TestClient, services: Services,
                                          writer: dict[str, str],
                                          reader: dict[str, str]) -> None:
    anomaly = _metric_anomaly(client, services, reader)
    resp = client.post(f"/api/v1/anomalies/{anomaly['id']}/verdict", headers=writer,
                       json={"verdict": "false_alarm", "note": "nightly batch job"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "stops paging for a surprise of this size" in body["detail"]
    assert body["verdict"]["actor"] == "ingest" and body["verdict"]["note"] == "nightly batch job"
    # The core's metric analysis reads it from the store on its next read.
    stage = services.extras["metric_analysis"]
    stage.verdict_interval = 0
    stage.process([])
    assert stage.counters.verdicts_applied == 1
    index = anomaly["evidence"]["driver_index"]
    slot = stage.bank._slots[anomaly["subject"]]
    assert stage.bank.detector.arr(f"tolerance{index}")[slot] == pytest.approx(
        anomaly["evidence"]["driver_level"], rel=1e-3)

    client.post(f"/api/v1/anomalies/{anomaly['id']}/verdict", headers=writer,
                json={"verdict": "confirmed", "actor": "alice"})
    got = client.get(f"/api/v1/anomalies/{anomaly['id']}", headers=reader)
    assert got.status_code == 200, got.text
    doc = got.json()
    assert doc["subject"] == anomaly["subject"]
    assert [v["verdict"] for v in doc["verdicts"]] == ["confirmed", "false_alarm"]
    assert doc["verdicts"][0]["actor"] == "alice"


def test_a_confirmed_or_non_metric_anomaly_changes_no_detector(
        client: TestClient, services: Services, writer: dict[str, str],
        reader: dict[str, str]) -> None:
    anomaly = _metric_anomaly(client, services, reader)
    resp = client.post(f"/api/v1/anomalies/{anomaly['id']}/verdict", headers=writer,
                       json={"verdict": "confirmed"})
    assert resp.status_code == 200 and "detector is unchanged" in resp.json()["detail"]
    services.store.append_anomalies([Anomaly(id="log-1", kind="log_rate", subject="t1", ts=T0,
                                             score=0.9)])
    resp = client.post("/api/v1/anomalies/log-1/verdict", headers=writer,
                       json={"verdict": "false_alarm"})
    assert resp.status_code == 200
    assert "only metric detectors learn" in resp.json()["detail"]
    stage = services.extras["metric_analysis"]
    stage.verdict_interval = 0
    stage.process([])
    assert stage.counters.verdicts_applied == 0


def test_bad_verdicts_are_refused(client: TestClient, services: Services,
                                  writer: dict[str, str], reader: dict[str, str]) -> None:
    anomaly = _metric_anomaly(client, services, reader)
    url = f"/api/v1/anomalies/{anomaly['id']}/verdict"
    assert client.post(url, json={"verdict": "false_alarm"}).status_code == 401
    assert client.post(url, headers=reader, json={"verdict": "false_alarm"}).status_code == 403
    wrong = client.post(url, headers=writer, json={"verdict": "meh"})
    assert wrong.status_code == 422 and "verdict" in wrong.text
    extra = client.post(url, headers=writer, json={"verdict": "confirmed", "score": 1})
    assert extra.status_code == 422
    long_note = client.post(url, headers=writer, json={"verdict": "confirmed", "note": "x" * 3000})
    assert long_note.status_code == 422
    missing = client.post("/api/v1/anomalies/nope/verdict", headers=writer,
                          json={"verdict": "false_alarm"})
    assert missing.status_code == 404 and "nope" in missing.text
    assert client.get("/api/v1/anomalies/nope", headers=reader).status_code == 404
    # Nothing refused was kept.
    assert client.get(f"/api/v1/anomalies/{anomaly['id']}",
                      headers=reader).json()["verdicts"] == []
