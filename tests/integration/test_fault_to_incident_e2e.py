"""A simulated fault end to end, in process: the simulator's topology, metrics, alerts and
changes go in over the HTTP API; the bus carries them to metric analysis and the
incident stage; the API then shows one incident for the fault, ranked with the injected
root entity first, with evidence and a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.present.api.auth import create_token
from opscope.sim import Simulation, SimulationConfig, run_fast
from opscope.store.duckdb import DuckDBStore

START = datetime(2026, 3, 2, tzinfo=UTC)
FAULT_AT = START + timedelta(minutes=20)


def test_latency_on_catalog_becomes_one_incident_with_catalog_ranked_first(
        tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path, log_analysis={"enabled": False})
    services = build_services(settings, store=DuckDBStore(None))
    sim = Simulation(seed=3, start=START, config=SimulationConfig(log_volume=0.0))
    fault = sim.inject("latency", "catalog", FAULT_AT, duration=420.0)
    writer = {"Authorization": f"Bearer {create_token(services.store, ['ingest'], 'sim')}"}
    reader = {"Authorization": f"Bearer {create_token(services.store, ['read'], 'ui')}"}
    with TestClient(create_app(settings, services)) as client:
        def send(path: str, body: object) -> None:
            response = client.post(path, content=orjson.dumps(body), headers=writer)
            assert response.status_code < 300, response.text

        send("/api/v1/topology", sim.topology().to_json())
        for batch in run_fast(sim, timedelta(minutes=30)):
            for kind in ("changes", "metrics", "events"):
                items = getattr(batch, kind)
                if items:
                    send(f"/api/v1/{kind}", [i.model_dump(mode="json") for i in items])
        assert services.bus.drain() and services.bus.drain()

        items = client.get("/api/v1/incidents", headers=reader).json()["items"]
        truth = next(t for t in sim.ground_truth() if t.fault_id == fault.id)
        ours = [i for i in items if set(i["entities"]) & set(truth.affected_entities)
                and i["opened_at"] >= FAULT_AT.isoformat().replace("+00:00", "Z")]
        assert len(ours) == 1, items
        incident = ours[0]
        assert "catalog" in incident["entities"]
        assert incident["top_hypothesis"]["entity"] == "catalog"

        detail = client.get(f"/api/v1/incidents/{incident['id']}", headers=reader).json()
        top = detail["hypotheses"][0]
        assert top["rank"] == 1 and top["entity"] == "catalog"
        assert top["reason"].startswith("Rank 1")
        assert any(e["kind"] == "metric_shift" for e in top["evidence"])
        assert {m["signal"]["entity"] for m in detail["members"]} >= {"catalog"}
        assert detail["timeline"] and detail["severity"] in ("warning", "error", "critical")


def test_cli_reads_incidents_and_patterns_from_a_stopped_servers_data_dir(
        tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from opscope.model import Event, Relation
    from opscope.present.cli.main import app as cli

    settings = load_settings(environ={}, data_dir=tmp_path, log_analysis={"enabled": False},
                             metric_analysis={"enabled": False})
    store = DuckDBStore(settings.database_path)
    services = build_services(settings, store=store)
    # The app's lifespan stops every background stage and closes the store on exit.
    with TestClient(create_app(settings, services)):
        services.ingestor.ingest("topology", [([], [Relation(source="web", target="api")])])
        for day in range(3):  # the same pair of alerts on three days: a recurring incident
            at = START + timedelta(days=day)
            services.ingestor.ingest("events", [
                Event(source="am", name="HighLatency", entity=e, starts_at=at,
                      fingerprint=f"{e}-{day}") for e in ("web", "api")])
            services.ingestor.ingest("events", [
                Event(source="am", name="HighLatency", entity=e, status="resolved",
                      starts_at=at, ends_at=at + timedelta(minutes=2),
                      fingerprint=f"{e}-{day}") for e in ("web", "api")])
        assert services.bus.drain()

    runner = CliRunner()
    listed = runner.invoke(cli, ["incidents", "list", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    ids = [word for word in listed.output.split() if word.startswith("inc-")]
    assert len(ids) == 3
    shown = runner.invoke(cli, ["incidents", "show", ids[0], "--data-dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "HighLatency on web" in shown.output and "timeline:" in shown.output
    found = runner.invoke(cli, ["patterns", "--since", "2026-03-01", "--data-dir",
                                str(tmp_path)])
    assert found.exit_code == 0, found.output
    assert "6 alerts and 3 incidents" in found.output
    assert "recurring incidents (1):" in found.output
