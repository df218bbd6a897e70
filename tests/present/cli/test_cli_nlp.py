"""``opscope incidents similar|summary`` and ``opscope ask`` on a stopped server's data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opscope.config import load_settings
from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import (
    ChangeKind,
    Incident,
    IncidentChange,
    IncidentMember,
    IncidentStatus,
    Signal,
)
from opscope.present.cli.main import app
from opscope.store.duckdb import DuckDBStore

runner = CliRunner()
T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def _change(seq: int, inc_id: str, hour: float, signals: list[tuple[str, str]],
            resolved: bool) -> IncidentChange:
    opened = T0 + timedelta(hours=hour)
    end = opened + timedelta(minutes=30) if resolved else None
    members = [IncidentMember(incident_id=inc_id, joined_at=opened, signal=Signal(
        id=f"{inc_id}/{n}", name=name, entity=entity, severity="critical", starts_at=opened,
        last_seen=opened)) for n, (name, entity) in enumerate(signals)]
    inc = Incident(id=inc_id, status=IncidentStatus.RESOLVED if resolved else
                   IncidentStatus.OPEN, title=f"{signals[0][0]} on {signals[0][1]}",
                   severity="critical", opened_at=opened, updated_at=end or opened,
                   resolved_at=end, entities=sorted({e for _, e in signals}),
                   signal_count=len(signals), firing_count=0 if resolved else len(signals))
    return IncidentChange(seq=seq, kind=ChangeKind.RESOLVED if resolved else ChangeKind.OPENED,
                          ts=end or opened, incident=inc, members=members)


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    store = DuckDBStore(load_settings(environ={}, data_dir=tmp_path).database_path)
    store.write_changes([
        _change(0, "inc-a", 0, [("DatastoreSlow", "db-1"), ("HighLatency", "api")], True),
        _change(1, "inc-b", 2, [("JobFailed", "batch")], True),
        _change(2, "inc-c", 4, [("DatastoreSlow", "db-2"), ("HighLatency", "api")], False),
    ])
    store.write_hypotheses("inc-c", T0 + timedelta(hours=4), [Hypothesis(
        entity="db-2", signal="db-2/query_seconds", score=2.0, rank=1,
        reason="db-2 slowed first.")])
    store.close()
    return tmp_path


def test_similar_and_summary_from_a_data_dir(data_dir: Path) -> None:
    similar = runner.invoke(app, ["incidents", "similar", "inc-c", "--data-dir",
                                  str(data_dir)])
    assert similar.exit_code == 0, similar.output
    first = similar.output.splitlines()[0]
    assert "inc-a" in first and "inc-b" not in similar.output
    assert "both: DatastoreSlow on db" in similar.output
    assert "resolved on its own (signals quiet) after 30 min" in similar.output
    as_json = runner.invoke(app, ["incidents", "similar", "inc-c", "--json", "--data-dir",
                                  str(data_dir)])
    assert json.loads(as_json.output)["items"][0]["incident_id"] == "inc-a"
    summary = runner.invoke(app, ["incidents", "summary", "inc-c", "--data-dir",
                                  str(data_dir)])
    assert summary.exit_code == 0, summary.output
    assert "The most likely cause is db-2 (db-2/query_seconds): db-2 slowed first." \
        in summary.output
    missing = runner.invoke(app, ["incidents", "summary", "nope", "--data-dir", str(data_dir)])
    assert missing.exit_code == 1


def test_ask_from_a_data_dir(data_dir: Path) -> None:
    found = runner.invoke(app, ["ask", "how many incidents on db-1", "--data-dir",
                                str(data_dir)])
    assert found.exit_code == 0, found.output
    assert found.output.splitlines() == [
        "I read this as: count of incidents, entity db-1, any time.", "1"]
    listed = runner.invoke(app, ["ask", "open incidents", "--json", "--data-dir",
                                 str(data_dir)])
    assert [i["id"] for i in json.loads(listed.output)["answer"]["items"]] == ["inc-c"]
    none = runner.invoke(app, ["ask", "deploys", "--data-dir", str(data_dir)])
    assert none.exit_code == 0 and none.output.splitlines()[-1] == "nothing matches"
    unknown = runner.invoke(app, ["ask", "incidents on frobnicator", "--data-dir",
                                  str(data_dir)])
    assert unknown.exit_code == 2 and "Not understood: 'frobnicator'" in unknown.output


def test_show_says_when_a_storm_is_cut(data_dir: Path, tmp_path: Path) -> None:
    big = tmp_path / "big"
    store = DuckDBStore(load_settings(environ={}, data_dir=big).database_path)
    store.write_changes([_change(0, "inc-big", 0, [("HighLatency", f"api-{i}")
                                                    for i in range(1003)], False)])
    store.close()
    shown = runner.invoke(app, ["incidents", "show", "inc-big", "--data-dir", str(big)])
    assert shown.exit_code == 0, shown.output
    assert "members (the first 1000 of 1003):" in shown.output
    small = runner.invoke(app, ["incidents", "show", "inc-a", "--data-dir", str(data_dir)])
    assert "members (2):" in small.output
