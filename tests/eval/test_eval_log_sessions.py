import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from opscope.present.cli.main import app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs" / "sessions"


def test_dev_folder_uses_k_fold_for_false_positives() -> None:
    result = CliRunner().invoke(app, ["eval", "log-sessions", "--data", str(FIXTURES),
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["recall"] == 1.0
    assert report["false_positive_rate"] == 0.0
    assert report["normal"]["protocol"].startswith("5-fold")
    assert report["abnormal"]["distinct"] == 3


def test_test_folder_is_used_when_given(tmp_path: Path) -> None:
    test = tmp_path / "heldout"
    test.mkdir()
    (test / "test_normal.txt").write_text("5 22 11 9 26 \n5 22 11 9 11 9 26 \n")
    shutil.copy(FIXTURES / "dev_abnormal.txt", test / "test_abnormal.txt")
    result = CliRunner().invoke(app, ["eval", "log-sessions", "--data", str(FIXTURES),
                                      "--test", str(test)])
    assert result.exit_code == 0, result.output
    assert "test_normal.txt" in result.output and "held-out file" in result.output
