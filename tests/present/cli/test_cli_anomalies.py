"""``opscope anomalies list|show|verdict``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from integration.server_process import ServerProcess, make_token
from opscope.model import Anomaly
from opscope.present.cli.main import app
from opscope.store.duckdb import DuckDBStore

runner = CliRunner()


def _seed(data: Path) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    store = DuckDBStore(data / "opscope.duckdb")
    try:
        store.append_anomalies([
            Anomaly(id="an-1", kind="metric", entity="db", subject="s1", ts=now, score=0.9,
                    summary="latency is up",
                    evidence={"driver": "seasonal", "driver_index": 0, "driver_level": 7.5}),
            Anomaly(id="an-2", kind="log_rate", entity="web", subject="t1",
                    ts=now - timedelta(hours=2), score=0.6, summary="errors surge"),
            Anomaly(id="an-old", kind="metric", entity="db", subject="s1",
                    ts=now - timedelta(days=3), score=0.7, summary="long ago"),
        ])
    finally:
        store.close()
    return now


def test_verdicts_over_the_api_then_read_from_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = make_token(data, "read", "ingest")
    _seed(data)
    server = ServerProcess(data).start()
    try:
        api = ["--url", server.url, "--token", token]
        listed = runner.invoke(app, ["anomalies", "list", "--json", *api])
        assert listed.exit_code == 0, listed.output
        assert [r["id"] for r in json.loads(listed.output)] == ["an-1", "an-2"]
        said = runner.invoke(app, ["anomalies", "verdict", "an-1", "false_alarm",
                                   "--note", "backup window", *api])
        assert said.exit_code == 0, said.output
        assert said.output.startswith("false_alarm on an-1: kept; within 15 s")
        bad = runner.invoke(app, ["anomalies", "verdict", "an-1", "meh", *api])
        assert bad.exit_code == 2 and "false_alarm or confirmed" in bad.output
        missing = runner.invoke(app, ["anomalies", "verdict", "nope", "confirmed", *api])
        assert missing.exit_code == 1
        shown = runner.invoke(app, ["anomalies", "show", "an-1", *api])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["verdicts"][0]["note"] == "backup window"
    finally:
        server.stop()
    offline = ["--data-dir", str(data)]
    week = runner.invoke(app, ["anomalies", "list", "--since", "7d", "--kind", "metric",
                               "--json", *offline])
    assert week.exit_code == 0, week.output
    assert [r["id"] for r in json.loads(week.output)] == ["an-1", "an-old"]
    table = runner.invoke(app, ["anomalies", "list", "-e", "web", *offline])
    assert table.exit_code == 0 and "an-2" in table.output and "an-1" not in table.output
    shown = runner.invoke(app, ["anomalies", "show", "an-1", *offline])
    doc = json.loads(shown.output)
    assert doc["evidence"]["driver"] == "seasonal"
    assert [v["verdict"] for v in doc["verdicts"]] == ["false_alarm"]
    gone = runner.invoke(app, ["anomalies", "show", "nope", *offline])
    assert gone.exit_code == 1 and "no anomaly nope" in gone.output
