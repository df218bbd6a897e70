"""Metric anomalies end to end, in process: HTTP samples -> bus -> detectors -> stored
anomaly and band -> API; and ``opscope train`` warming the detectors a server restores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from opscope.analyze.metrics.stage import STATE_FILE, MetricAnalysisStage
from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.errors import ConfigError
from opscope.model import Anomaly, MetricSample, series_id
from opscope.present.api.auth import create_token
from opscope.present.api.services import Services
from opscope.present.cli.main import app as cli
from opscope.store.duckdb import DuckDBStore

T0 = datetime(2026, 3, 2, tzinfo=UTC)
STEP_S = 300  # five-minute samples, in event time
DAY = 86_400 // STEP_S
SPIKE = 3 * DAY  # the first sample of the fourth day
LABELS = {"service": "checkout", "instance": "c1"}
SID = series_id("latency_ms", LABELS)


def values(n: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    daily = 120 + 40 * np.sin(2 * np.pi * np.arange(n) / DAY) + rng.normal(0, 3, n)
    daily[SPIKE] += 150
    return daily


def payload(start: int, stop: int, series: np.ndarray) -> list[dict[str, Any]]:
    t0 = int(T0.timestamp())
    return [{"name": "latency_ms", "labels": LABELS, "value": float(series[i]),
             "ts": t0 + i * STEP_S} for i in range(start, stop)]


@pytest.fixture()
def services(tmp_path: Path) -> Services:
    settings = load_settings(environ={}, data_dir=tmp_path)
    return build_services(settings, store=DuckDBStore(None))


def test_spike_is_found_stored_published_and_drawn(services: Services, tmp_path: Path) -> None:
    published: list[Anomaly] = []

    def collect(batch: Sequence[Any]) -> None:
        published.extend(batch)

    services.bus.subscribe("anomalies", "test-collector", collect)
    writer = {"Authorization": f"Bearer {create_token(services.store, ['ingest'], 'w')}"}
    reader = {"Authorization": f"Bearer {create_token(services.store, ['read'], 'r')}"}
    series = values(SPIKE + 12)
    with TestClient(create_app(services.settings, services)) as client:
        for start in range(0, SPIKE + 12, 200):
            body = payload(start, min(start + 200, SPIKE + 12), series)
            resp = client.post("/api/v1/metrics", json=body, headers=writer)
            assert resp.status_code == 200, resp.text
        assert services.bus.drain(timeout=30)

        found = client.get("/api/v1/anomalies", params={"kind": "metric"},
                           headers=reader).json()["items"]
        spike_at = T0 + timedelta(seconds=SPIKE * STEP_S)
        assert [(a["subject"], a["ts"], a["direction"]) for a in found] == [
            (SID, spike_at.isoformat().replace("+00:00", "Z"), "up")]
        anomaly = found[0]
        assert anomaly["entity"] == "checkout" and anomaly["score"] >= 0.5
        assert anomaly["lower"] < anomaly["expected"] < anomaly["upper"] < anomaly["value"]
        assert [a.subject for a in published] == [SID]

        answer = client.get("/api/v1/metrics/series", headers=reader, params={
            "name": "latency_ms", "match": 'service="checkout"', "band": "true",
            "step": 3600}).json()["series"]
        assert len(answer) == 1
        row = answer[0]
        spike_ms = int(spike_at.timestamp() * 1000)
        assert row["anomalies"] == [[spike_ms, anomaly["score"], "up"]]
        # One band point per hour bucket, on the same buckets as the points.
        hours = {p[0] for p in row["points"]}
        assert len(row["band"]) >= len(hours) - 1
        assert {b[0] for b in row["band"]} <= hours
        # Once the daily shape is learnt, the band follows it and holds the normal points.
        day3 = int(T0.timestamp() * 1000) + 2 * 86_400_000
        spike_hour = spike_ms - spike_ms % 3_600_000
        points = {p[0]: p[1] for p in row["points"]}
        inside = [lower <= points[at] <= upper for at, _, lower, upper in row["band"]
                  if at >= day3 and at != spike_hour]
        assert inside and sum(inside) / len(inside) > 0.9
        stage = services.extras["metric_analysis"]
        assert isinstance(stage, MetricAnalysisStage)
        assert stage.counters.samples == SPIKE + 12
    # Shutting down saved the detectors; a restarted server restores them.
    assert (tmp_path / STATE_FILE).exists()
    restarted = build_services(services.settings, store=DuckDBStore(None))
    assert len(restarted.extras["metric_analysis"].bank) == 1
    restarted.bus.close()


def test_train_warms_the_detectors_the_server_restores(tmp_path: Path) -> None:
    data = tmp_path / "data"
    series = values(SPIKE + 12)
    with DuckDBStore(data / "opscope.duckdb") as store:
        store.append_samples([MetricSample(name="latency_ms", labels=LABELS, value=float(v),
                                           ts=T0 + timedelta(seconds=i * STEP_S))
                              for i, v in enumerate(series[:SPIKE])])
    runner = CliRunner()
    until = (T0 + timedelta(days=3)).isoformat()
    result = runner.invoke(cli, ["train", "--data-dir", str(data), "--since", "7d",
                                 "--until", until, "--batch-rows", "100"])
    assert result.exit_code == 0, result.output
    assert f"learnt {SPIKE} samples of 1 series" in result.output
    assert (data / STATE_FILE).exists()

    # A server on that data dir starts with trained detectors and flags the very next spike.
    settings = load_settings(environ={}, data_dir=data)
    services = build_services(settings, store=DuckDBStore(None))
    stage = services.extras["metric_analysis"]
    assert len(stage.bank) == 1
    live = [MetricSample(name="latency_ms", labels=LABELS, value=float(series[i]),
                         ts=T0 + timedelta(seconds=i * STEP_S)) for i in range(SPIKE, SPIKE + 12)]
    found = stage.process(live)
    services.bus.close()
    assert [(a.subject, a.ts) for a in found] == [(SID, live[0].ts)]

    # Nothing in the window: the saved state is left alone and the command says so.
    empty = runner.invoke(cli, ["train", "--data-dir", str(data), "--since", "1d",
                                "--until", "2020-01-01T00:00:00Z"])
    assert empty.exit_code == 1 and "no samples stored" in empty.output


def test_train_refuses_a_missing_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no database" in result.output



def test_invalid_bank_settings_stop_the_start(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path,
                             metric_analysis={"bank": {"capacity": 0}})
    with pytest.raises(ConfigError, match=r"metric_analysis\.bank"):
        build_services(settings, store=DuckDBStore(None))
