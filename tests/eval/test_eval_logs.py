import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opscope.eval.logs import discover_datasets, parsing_scores
from opscope.present.cli.main import app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs" / "parsing"


def test_perfect_parse_scores_one() -> None:
    truth = ["A <*>", "A <*>", "B", "C <*>"]
    scores = parsing_scores(["g1", "g1", "g2", "g3"], truth, truth)
    assert (scores.ga, scores.fga, scores.pa, scores.fta) == (1.0, 1.0, 1.0, 1.0)


def test_merged_groups_lose_all_their_lines() -> None:
    truth = ["A <*>", "A <*>", "B", "C <*>"]
    # B and C merged into one predicted group: both true groups are wrong.
    scores = parsing_scores(["g1", "g1", "g2", "g2"], ["A <*>", "A <*>", "<*>", "<*>"], truth)
    assert scores.ga == pytest.approx(0.5)
    # 1 correct group of 2 predicted, of 3 true: P=0.5, R=1/3, F1=0.4.
    assert scores.fga == pytest.approx(0.4)
    assert scores.pa == pytest.approx(0.5)
    assert scores.fta == pytest.approx(0.4)


def test_right_group_wrong_template() -> None:
    truth = ["A <*>", "A <*>", "B"]
    scores = parsing_scores(["x", "x", "y"], ["A 1", "A 1", "B"], truth)
    assert scores.ga == 1.0 and scores.fga == 1.0
    assert scores.pa == pytest.approx(1 / 3)
    # Templates right for 1 of 2 groups: P = R = 0.5.
    assert scores.fta == pytest.approx(0.5)


def test_split_group() -> None:
    truth = ["A <*>"] * 4
    scores = parsing_scores(["x", "x", "x", "y"], ["A <*>"] * 4, truth)
    assert scores.ga == 0.0 and scores.fga == 0.0
    assert scores.pa == 1.0 and scores.fta == 0.0


def test_discovers_dataset_folders() -> None:
    assert sorted(p.name for p in discover_datasets(FIXTURES)) == ["Raw", "Shop"]


def test_command_scores_saves_and_reports_unlabelled(tmp_path: Path) -> None:
    out = tmp_path / "pred"
    result = CliRunner().invoke(app, ["eval", "logs", "--data", str(FIXTURES), "--json",
                                      "--save-predictions", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    shop = report["datasets"]["Shop"]["opscope"]
    assert shop["ga"] == 1.0 and shop["pa"] == 1.0
    assert report["datasets"]["Raw"]["opscope"]["scored"] is False
    with (out / "Shop.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["LineId", "EventId", "EventTemplate"]
    assert rows[0]["EventTemplate"] == "Order <*> paid by user <*> in <*> ms"
    # The raw-only folder went through header detection before mining.
    with (out / "Raw.csv").open(newline="") as fh:
        raw_rows = list(csv.DictReader(fh))
    assert raw_rows[2]["EventTemplate"] == "Cache miss for key=cart:<*>"


def test_command_table_with_baseline() -> None:
    # drain3 is a test dependency: this runs everywhere, never skips.
    result = CliRunner().invoke(app, ["eval", "logs", "--data", str(FIXTURES),
                                      "--baseline", "drain3"])
    assert result.exit_code == 0, result.output
    assert "drain3" in result.output and "Shop" in result.output
    assert "cannot score" in result.output


def test_raw_logs_through_header_detection_score_the_same() -> None:
    runner = CliRunner()
    plain = runner.invoke(app, ["eval", "logs", "--data", str(FIXTURES), "--json"])
    raw = runner.invoke(app, ["eval", "logs", "--data", str(FIXTURES), "--json", "--raw"])
    assert plain.exit_code == 0 and raw.exit_code == 0, raw.output
    first = json.loads(plain.output)["datasets"]["Shop"]["opscope"]
    second = json.loads(raw.output)["datasets"]["Shop"]["opscope"]
    assert (first["ga"], first["pa"]) == (second["ga"], second["pa"]) == (1.0, 1.0)
