"""The scaled-out set-up end to end: ``ingest``, ``core`` and ``web`` processes share a
real PostgreSQL server and a real NATS JetStream server, both started on loopback.

A simulated fault goes in through the ingest process only; the core analyses what
JetStream hands it and its API shows one incident with the injected root entity first.
A verdict given to a web replica reaches the core's detector through the database. Then
the core stops, the ingest process keeps accepting, and a new core analyses what arrived
while it was down.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from nats_server import BINARY as NATS_BINARY
from nats_server import NatsServer
from pg_server import REQUIRED, PgServer, find_binaries

from opscope.app import build_services, create_app
from opscope.config import ScrapeTarget, Settings, load_settings
from opscope.model import Anomaly, Event
from opscope.present.api.auth import create_token
from opscope.sim import Simulation, SimulationConfig, run_fast

START = datetime(2026, 3, 2, tzinfo=UTC)
FAULT_AT = START + timedelta(minutes=20)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PgServer, NatsServer]]:
    bindir = find_binaries()
    if bindir is None or NATS_BINARY is None:
        if REQUIRED:
            pytest.fail("PostgreSQL and nats-server are required (make system-deps)")
        pytest.skip("PostgreSQL or nats-server is not installed")
    pg = PgServer(bindir)
    nats = NatsServer(tmp_path_factory.mktemp("nats")).start()
    try:
        yield pg, nats
    finally:
        nats.stop()
        pg.stop()


def settings_for(role: str, dsn: str, nats: NatsServer, data_dir: Path,
                 stream: str) -> Settings:
    return load_settings(
        environ={}, role=role, data_dir=data_dir, log_analysis={"enabled": False},
        storage={"backend": "postgres", "postgres_dsn": dsn},
        bus={"backend": "nats", "nats_url": nats.url, "stream": stream,
             "subject_prefix": stream.lower()})


class Sender:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def send(self, path: str, body: Any) -> None:
        response = self.client.post(path, content=orjson.dumps(body), headers=self.headers)
        assert response.status_code < 300, response.text


def test_a_fault_sent_to_an_ingest_process_becomes_an_incident_on_the_core(
        shared: tuple[PgServer, NatsServer], tmp_path: Path) -> None:
    pg, nats = shared
    dsn = pg.new_database()
    core_settings = settings_for("core", dsn, nats, tmp_path / "core", "FAULT")
    ingest_settings = settings_for("ingest", dsn, nats, tmp_path / "ingest", "FAULT")
    core = build_services(core_settings)
    ingest = build_services(ingest_settings)
    assert not ingest.extras  # an ingest process runs no analysis
    writer = create_token(ingest.store, ["ingest"], "sim")
    reader = {"Authorization": f"Bearer {create_token(core.store, ['read'], 'ui')}"}
    sim = Simulation(seed=3, start=START, config=SimulationConfig(log_volume=0.0))
    fault = sim.inject("latency", "catalog", FAULT_AT, duration=420.0)
    with TestClient(create_app(core_settings, core)) as core_api, \
            TestClient(create_app(ingest_settings, ingest)) as ingest_api:
        sender = Sender(ingest_api, writer)
        sender.send("/api/v1/topology", sim.topology().to_json())
        last_sample = None
        for batch in run_fast(sim, timedelta(minutes=30)):
            for kind in ("changes", "metrics", "events"):
                items = getattr(batch, kind)
                if items:
                    sender.send(f"/api/v1/{kind}", [i.model_dump(mode="json") for i in items])
            last_sample = batch.metrics[-1] if batch.metrics else last_sample
        # The ingest process serves ingestion only.
        assert ingest_api.get("/api/v1/incidents", headers=reader).status_code == 404
        assert ingest_api.get("/healthz").status_code == 200
        assert core.bus.drain(30.0) and core.bus.drain(30.0)

        items = core_api.get("/api/v1/incidents", headers=reader).json()["items"]
        truth = next(t for t in sim.ground_truth() if t.fault_id == fault.id)
        ours = [i for i in items if set(i["entities"]) & set(truth.affected_entities)
                and i["opened_at"] >= FAULT_AT.isoformat().replace("+00:00", "Z")]
        assert len(ours) == 1, items
        assert ours[0]["top_hypothesis"]["entity"] == "catalog"
        detail = core_api.get(f"/api/v1/incidents/{ours[0]['id']}", headers=reader).json()
        assert any(e["kind"] == "metric_shift" for e in detail["hypotheses"][0]["evidence"])

        # A web replica reads the same incidents and sends actions to the core.
        web_settings = settings_for("web", dsn, nats, tmp_path / "web", "FAULT")
        web = build_services(web_settings)
        assert set(web.extras) == {"nlp.similar"}  # no analysis stage
        with TestClient(create_app(web_settings, web)) as web_api:
            shown = web_api.get(f"/api/v1/incidents/{ours[0]['id']}", headers=reader).json()
            assert shown["hypotheses"][0]["entity"] == "catalog"
            assert web_api.get("/", headers=reader).status_code == 200
            ack = web_api.post(f"/api/v1/incidents/{ours[0]['id']}/ack",
                               headers={"Authorization": f"Bearer {writer}"})
            assert ack.status_code == 503 and "core process" in ack.json()["message"], ack.text

            # A verdict given to the web replica reaches the core's detector through the
            # database: the core reads it with the next samples it scores.
            assert last_sample is not None
            stage = core.extras["metric_analysis"]
            stage.verdict_interval = 0.0
            core.store.append_anomalies([Anomaly(
                id="judged-1", kind="metric", detector="ensemble", subject=last_sample.series,
                ts=last_sample.ts, score=0.9,
                evidence={"driver": "range", "driver_index": 2, "driver_level": 3.0})])
            said = web_api.post("/api/v1/anomalies/judged-1/verdict",
                                headers={"Authorization": f"Bearer {writer}"},
                                json={"verdict": "false_alarm"})
            assert said.status_code == 200 and "kept" in said.json()["detail"], said.text
            later = last_sample.model_copy(update={"ts": last_sample.ts + timedelta(minutes=1)})
            sender.send("/api/v1/metrics", [later.model_dump(mode="json")])
            assert core.bus.drain(30.0)
            assert stage.counters.verdicts_applied == 1
            slot = stage.bank._slots[last_sample.series]
            assert stage.bank.detector.arr("tolerance2")[slot] > 2.9


def test_what_arrives_while_the_core_is_down_is_analysed_when_it_returns(
        shared: tuple[PgServer, NatsServer], tmp_path: Path) -> None:
    pg, nats = shared
    dsn = pg.new_database()
    core_settings = settings_for("core", dsn, nats, tmp_path / "core", "OUTAGE")
    ingest_settings = settings_for("ingest", dsn, nats, tmp_path / "ingest", "OUTAGE")
    core = build_services(core_settings)
    with TestClient(create_app(core_settings, core)):
        pass  # the core's first start makes its durable consumers; then it stops
    ingest = build_services(ingest_settings)
    writer = create_token(ingest.store, ["ingest"], "am")
    at = datetime.now(UTC) - timedelta(minutes=5)
    alerts = [Event(source="am", name=name, entity="db", starts_at=at + timedelta(seconds=i),
                    labels={"severity": "critical"}).model_dump(mode="json")
              for i, name in enumerate(("HighLatency", "HighErrorRate"))]
    with TestClient(create_app(ingest_settings, ingest)) as ingest_api:
        Sender(ingest_api, writer).send("/api/v1/events", alerts)
    core = build_services(core_settings)
    reader = {"Authorization": f"Bearer {create_token(core.store, ['read'], 'ui')}"}
    with TestClient(create_app(core_settings, core)) as core_api:
        # Stored by the ingest process, and correlated once the core is back.
        events = core_api.get("/api/v1/events", headers=reader).json()["items"]
        assert {e["name"] for e in events} == {"HighLatency", "HighErrorRate"}
        assert core.bus.drain(30.0)
        incidents = core_api.get("/api/v1/incidents", headers=reader).json()["items"]
        assert len(incidents) == 1 and incidents[0]["entities"] == ["db"], incidents


def test_cli_commands_read_the_shared_database(
        shared: tuple[PgServer, NatsServer], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from opscope.analyze.metrics.stage import STATE_FILE
    from opscope.model import MetricSample
    from opscope.present.cli.main import app as cli
    from opscope.store.postgres import PostgresStore

    pg, _ = shared
    dsn = pg.new_database()
    with PostgresStore(dsn) as store:
        store.append_samples([MetricSample(name="latency_ms", labels={"service": "api"},
                                           value=100.0 + i % 7, ts=START + timedelta(minutes=i))
                              for i in range(300)])
    env = {"OPSCOPE_STORAGE__BACKEND": "postgres", "OPSCOPE_STORAGE__POSTGRES_DSN": dsn}
    runner = CliRunner()
    token = runner.invoke(cli, ["token", "create", "--scope", "read", "--data-dir",
                                str(tmp_path)], env=env)
    assert token.exit_code == 0 and token.output.startswith("ops_"), token.output
    listed = runner.invoke(cli, ["token", "list", "--data-dir", str(tmp_path)], env=env)
    assert listed.exit_code == 0 and "read" in listed.output
    trained = runner.invoke(cli, ["train", "--data-dir", str(tmp_path), "--since", "1d",
                                  "--until", (START + timedelta(days=1)).isoformat()], env=env)
    assert trained.exit_code == 0, trained.output
    assert "learnt 300 samples of 1 series" in trained.output
    assert (tmp_path / STATE_FILE).exists()


def test_only_the_core_scrapes(shared: tuple[PgServer, NatsServer], tmp_path: Path) -> None:
    from opscope.collect.scrape import Scraper

    pg, nats = shared
    dsn = pg.new_database()
    target = [{"url": "http://127.0.0.1:9/metrics", "job": "node", "interval_seconds": 3600}]
    found: dict[str, list[str]] = {}
    for role in ("ingest", "core"):
        settings = settings_for(role, dsn, nats, tmp_path / role, "SCRAPE")
        settings = settings.model_copy(update={"receivers": settings.receivers.model_copy(
            update={"scrape": [ScrapeTarget.model_validate(t) for t in target]})})
        services = build_services(settings)
        with TestClient(create_app(settings, services)):
            found[role] = [type(r).__name__ for r in services.extras["receivers"]]
    assert found == {"ingest": [], "core": [Scraper.__name__]}
