"""``GET /api/v1/metrics/series?band=true``: points plus expected band and anomaly marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from opscope.model import Anomaly, MetricSample, series_id
from opscope.present.api.services import Services

T0 = datetime(2026, 3, 2, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)
LABELS = {"service": "api"}
SID = series_id("cpu", LABELS)


def _populate(services: Services) -> None:
    # Straight into the store: this is about the read path, not about analysis.
    store = services.store
    store.append_samples([MetricSample(name="cpu", labels=LABELS, value=float(i),
                                       ts=T0 + timedelta(minutes=i)) for i in range(10)])
    store.append_samples([MetricSample(name="cpu", labels={"service": "db"}, value=1.0,
                                       ts=T0)])
    store.append_bands([(SID, T0 + timedelta(minutes=i), float(i), i - 2.0, i + 2.0)
                        for i in range(0, 10, 2)])
    store.append_anomalies([
        Anomaly(kind="metric", subject=SID, ts=T0 + timedelta(minutes=7), score=0.8,
                direction="up"),
        Anomaly(kind="log_rate", subject=SID, ts=T0, score=0.9),
    ])


def _series(client: TestClient, headers: dict[str, str],
            **params: str | int) -> dict[str, dict[str, Any]]:
    resp = client.get("/api/v1/metrics/series", params={"name": "cpu", **params},
                      headers=headers)
    assert resp.status_code == 200, resp.text
    return {row["labels"]["service"]: row for row in resp.json()["series"]}


def test_band_needs_a_read_token(client: TestClient, services: Services,
                                 writer: dict[str, str]) -> None:
    _populate(services)
    params = {"name": "cpu", "band": "true"}
    assert client.get("/api/v1/metrics/series", params=params).status_code == 401
    assert client.get("/api/v1/metrics/series", params=params,
                      headers=writer).status_code == 403


def test_raw_band_and_marks(client: TestClient, services: Services,
                            reader: dict[str, str]) -> None:
    _populate(services)
    rows = _series(client, reader, band="true", match='service="api"')
    assert list(rows) == ["api"]
    row = rows["api"]
    assert len(row["points"]) == 10
    assert row["band"] == [[MS0 + i * 60_000, float(i), i - 2.0, i + 2.0]
                           for i in range(0, 10, 2)]
    assert row["anomalies"] == [[MS0 + 7 * 60_000, 0.8, "up"]]


def test_band_is_bucketed_with_the_points(client: TestClient, services: Services,
                                          reader: dict[str, str]) -> None:
    _populate(services)
    rows = _series(client, reader, band="true", step=300)
    api = rows["api"]
    assert [p[0] for p in api["points"]] == [MS0, MS0 + 300_000]
    assert [b[0] for b in api["band"]] == [p[0] for p in api["points"]]
    # Minutes 0, 2, 4 and 6, 8: the bucket holds the average expected value and bounds.
    assert api["band"] == [[MS0, 2.0, 0.0, 4.0], [MS0 + 300_000, 7.0, 5.0, 9.0]]
    assert rows["db"]["band"] == [] and rows["db"]["anomalies"] == []


def test_band_respects_the_time_range(client: TestClient, services: Services,
                                      reader: dict[str, str]) -> None:
    _populate(services)
    start = (T0 + timedelta(minutes=4)).isoformat()
    end = (T0 + timedelta(minutes=7)).isoformat()
    api = _series(client, reader, band="true", start=start, end=end)["api"]
    assert [b[0] for b in api["band"]] == [MS0 + 4 * 60_000, MS0 + 6 * 60_000]
    assert api["anomalies"] == []  # minute 7 is the excluded end


def test_without_band_the_answer_is_unchanged(client: TestClient, services: Services,
                                              reader: dict[str, str]) -> None:
    _populate(services)
    api = _series(client, reader)["api"]
    assert set(api) == {"series_id", "name", "labels", "entity", "points"}
