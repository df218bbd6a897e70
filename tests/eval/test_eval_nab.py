"""The NAB scorer on tiny hand-made cases, and the ``opscope eval nab`` command."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from opscope.eval import nab
from opscope.present.cli.main import app

STANDARD = nab.PROFILES["standard"]


def sigma(y: float) -> float:
    """The README's scaled sigmoid, written out by hand."""
    return -1.0 if y > 3 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def alarms_at(n: int, rows: list[int]) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rows] = True
    return out


def test_scaled_sigmoid_matches_the_definition() -> None:
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(0.0) == 0.0
    assert nab.scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(3.01) == -1.0


def test_probation_lengths_match_the_readme() -> None:
    assert [nab.probation(n) for n in (4032, 4730, 4621, 1243, 100_000)] == [
        604, 709, 693, 186, 750,
    ]


def test_one_file_scored_by_hand() -> None:
    # 100 rows: probation is 15 rows. One window, rows 40..49 (width 10).
    windows = [(40, 49)]
    alarms = alarms_at(100, [10, 20, 40, 45, 60, 90])
    result = nab.score_file(alarms, windows, STANDARD)
    # row 10: in probation, ignored.
    # row 20: false positive before any window ended: -0.11.
    # row 40: first row of the window: exactly +1. Row 45 adds nothing more.
    # row 60: false positive, y = (60 - 49) / 9, worth 0.11 * sigma(y).
    # row 90: y = 41 / 9 > 3, so the full -0.11.
    expected = -0.11 + 1.0 + 0.11 * sigma(11 / 9) - 0.11
    assert expected == pytest.approx(0.670486, abs=1e-5)
    assert result.raw == pytest.approx(expected, abs=1e-12)
    assert (result.tp, result.fn, result.fp) == (1, 0, 3)


def test_late_detection_earns_less() -> None:
    result = nab.score_file(alarms_at(100, [49]), [(40, 49)], STANDARD)
    # Last row of the window: y = -1/10.
    assert result.raw == pytest.approx(sigma(-0.1) / sigma(-1.0), abs=1e-12)
    assert result.raw == pytest.approx(0.248244, abs=1e-5)


def test_missed_window_costs_the_fn_weight() -> None:
    none = np.zeros(100, dtype=bool)
    assert nab.score_file(none, [(40, 49)], nab.PROFILES["reward_low_FN_rate"]).raw == -2.0
    assert nab.score_file(none, [(40, 49)], STANDARD).raw == -1.0


def test_corpus_normalisation() -> None:
    files = [
        nab.NabFile("g/a.csv", [], np.zeros(100), np.zeros(100), windows=[(40, 49)]),
        nab.NabFile("g/b.csv", [], np.zeros(100), np.zeros(100), windows=[(30, 39)]),
        nab.NabFile("g/c.csv", [], np.zeros(100), np.zeros(100), windows=[]),
    ]
    alarms = {
        "g/a.csv": alarms_at(100, [40]),  # +1
        "g/b.csv": np.zeros(100, dtype=bool),  # -1
        "g/c.csv": alarms_at(100, [50]),  # -0.11 (no window in this file)
    }
    result = nab.score_corpus(files, alarms, "standard")
    # S = -0.11, W = 2: 100 * (S + 2) / (2 + 2).
    assert result.windows == 2
    assert result.score == pytest.approx(100 * (-0.11 + 2) / 4)


def test_group_scores_are_normalised_per_group() -> None:
    files = [
        nab.NabFile("g1/a.csv", [], np.zeros(100), np.zeros(100), windows=[(40, 49)]),
        nab.NabFile("g1/b.csv", [], np.zeros(100), np.zeros(100), windows=[(30, 39)]),
        nab.NabFile("g2/c.csv", [], np.zeros(100), np.zeros(100), windows=[]),
    ]
    alarms = {
        "g1/a.csv": alarms_at(100, [40]),  # +1
        "g1/b.csv": np.zeros(100, dtype=bool),  # -1
        "g2/c.csv": alarms_at(100, [50, 60]),  # 2 x -0.11
    }
    groups = nab.group_scores(files, nab.score_corpus(files, alarms, "standard"))
    assert list(groups) == ["g1", "g2"]
    assert (groups["g1"]["tp"], groups["g1"]["fn"], groups["g1"]["fp"]) == (1, 1, 0)
    assert groups["g1"]["score"] == pytest.approx(100 * (0.0 + 2) / 4)
    assert groups["g2"]["raw"] == pytest.approx(-0.22)
    assert groups["g2"]["fp"] == 2 and groups["g2"]["score"] is None


def test_truncate_keeps_only_windows_that_can_still_be_scored() -> None:
    values = np.arange(100, dtype=float)
    f = nab.NabFile("g/a.csv", [str(i) for i in range(100)], values, values,
                    windows=[(40, 49), (80, 89)])
    tail = nab.truncate(f, 50, "tail")
    # Rows 50..99; the first window is gone, the second moves to 30..39.
    assert tail.windows == [(30, 39)] and tail.values[0] == 50.0 and len(tail.t) == 50
    head = nab.truncate(f, 60, "head")
    # Rows 0..59: the second window no longer fits; probation of 60 rows is 9 < 40.
    assert head.windows == [(40, 49)] and len(head.timestamps) == 60
    # A window inside the cut stream's probationary period is dropped, as NAB does.
    assert nab.truncate(f, 65, "tail").windows == [(45, 54)]
    assert nab.truncate(nab.NabFile("g/b.csv", [], values, values), 10, "tail").windows is None


def test_thin_keeps_each_window_over_the_same_span() -> None:
    values = np.arange(100, dtype=float)
    f = nab.NabFile("g/a.csv", [str(i) for i in range(100)], values, values,
                    windows=[(10, 19), (40, 49), (80, 89)])
    thinned = nab.thin(f, 3)
    # Rows 0, 3, ..., 99: 34 rows; windows map to rows 13..16 and 26..29, and the first
    # (row 3) now falls inside the 34-row stream's probationary period (5 rows).
    assert len(thinned.t) == 34 and thinned.values[1] == 3.0
    assert thinned.windows == [(13, 16), (26, 29)]
    assert nab.thin(f, 1).windows == [(40, 49), (80, 89)]  # (10, 19) is in probation
    with pytest.raises(ValueError):
        nab.thin(f, 0)


def test_fine_gives_each_row_k_samples_and_fold_maps_alarms_back() -> None:
    t = np.array([0.0, 300.0, 600.0, 1200.0])
    f = nab.NabFile("g/a.csv", [], t, np.array([1.0, 2.0, 3.0, 4.0]), windows=[(1, 2)])
    fine = nab.fine(f, 3)
    # Each row's value three times, at thirds of the time to the next row (the last
    # row's at the median interval, 300 s).
    assert fine.values.tolist() == [1.0] * 3 + [2.0] * 3 + [3.0] * 3 + [4.0] * 3
    assert fine.t.tolist() == [0, 100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1300, 1400]
    assert fine.windows == [(3, 8)]
    alarms = np.zeros(12, dtype=bool)
    alarms[[4, 11]] = True
    assert nab.fold(alarms, 3).tolist() == [False, True, False, True]
    assert nab.fine(f, 1).t.tolist() == t.tolist()
    with pytest.raises(ValueError):
        nab.fine(f, 0)


def test_average_precision_by_hand() -> None:
    truth = np.array([True, False, True, False])
    score = np.array([0.9, 0.8, 0.7, 0.1])
    # Precision 1 at recall 0.5, then 2/3 at recall 1.
    assert nab.average_precision(truth, score) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def make_corpus(root: Path, labelled: bool) -> None:
    (root / "data" / "grp").mkdir(parents=True)
    rng = np.random.default_rng(0)
    start = datetime(2024, 1, 1)
    rows = 1000
    path = root / "data" / "grp" / "tiny.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        for i in range(rows):
            value = 10.0 + rng.uniform(-1, 1) + (40.0 if i == 800 else 0.0)
            when = start + timedelta(minutes=5 * i)
            writer.writerow([when.strftime("%Y-%m-%d %H:%M:%S"), value])
    if labelled:
        (root / "labels").mkdir()
        def stamp(i: int) -> str:
            return (start + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S.000000")

        windows = {"grp/tiny.csv": [[stamp(780), stamp(830)]]}
        (root / "labels" / "windows.json").write_text(json.dumps(windows))


def test_command_scores_and_saves_predictions(tmp_path: Path) -> None:
    make_corpus(tmp_path / "nab", labelled=True)
    out = tmp_path / "pred"
    result = CliRunner().invoke(
        app, ["eval", "nab", "--data", str(tmp_path / "nab"), "--json",
              "--save-predictions", str(out)],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    default, baseline = report["runs"]
    assert baseline["detector"].startswith("baseline")
    assert default["files"]["grp/tiny.csv"]["tp"] == 1
    assert default["profiles"]["standard"]["score"] > 50
    assert report["cuts"] == {}
    # The one alarm, inside the window, named by the ensemble member that raised it; the
    # z-score has a single view and names none.
    by_driver = default["alarms_by_driver"]
    assert sum(c["inside"] for c in by_driver.values()) == 1
    assert sum(c["outside"] for c in by_driver.values()) == 0
    assert set(by_driver) <= {"seasonal", "change_point", "range", "stall", "sustained", "shape"}
    assert "alarms_by_driver" not in baseline
    group = default["profiles"]["standard"]["groups"]["grp"]
    assert (group["windows"], group["tp"], group["fn"]) == (1, 1, 0)
    with (out / "grp" / "tiny.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["timestamp", "value", "score", "alarm"]
    assert len(rows) == 1001
    assert rows[801][3] == "1"


def test_command_scores_cut_files(tmp_path: Path) -> None:
    make_corpus(tmp_path / "nab", labelled=True)
    result = CliRunner().invoke(
        app, ["eval", "nab", "--data", str(tmp_path / "nab"), "--json", "--cut", "600"]
    )
    assert result.exit_code == 0, result.output
    cuts = json.loads(result.output)["cuts"]
    assert set(cuts) == {"head 600", "tail 600"}
    # The window (rows 780..830) lies beyond the first 600 rows, inside the last 600.
    assert cuts["head 600"]["default ensemble"]["windows"] == 0
    assert cuts["head 600"]["default ensemble"]["profiles"]["standard"]["score"] is None
    assert cuts["tail 600"]["default ensemble"]["windows"] == 1
    text = CliRunner().invoke(app, ["eval", "nab", "--data", str(tmp_path / "nab"), "--cut", "600"])
    assert text.exit_code == 0 and "cut to tail 600" in text.output


def test_command_without_labels_says_it_cannot_score(tmp_path: Path) -> None:
    make_corpus(tmp_path / "nab", labelled=False)
    out = tmp_path / "pred"
    result = CliRunner().invoke(
        app, ["eval", "nab", "--data", str(tmp_path / "nab"), "--save-predictions", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "cannot score" in result.output
    assert (out / "grp" / "tiny.csv").is_file()


def _bursts_and_a_shift() -> nab.NabFile:
    """34 days of a daily series: the same burst of ten minutes at night on days 5 and 33
    (unlabelled), and a labelled level shift on day 20."""
    rng = np.random.default_rng(11)
    day = 288
    i = np.arange(34 * day)
    values = 50 + 20 * np.sin(2 * np.pi * i / day) + rng.normal(0, 1, i.shape[0])
    for burst in (5, 33):
        at = burst * day + 3 * day // 4
        values[at : at + 2] += 25.0
    values[20 * day :] += 15.0
    return nab.NabFile("g/bursts.csv", [], 1.7e9 + 300.0 * i, values,
                       windows=[(20 * day - 100, 20 * day + 100)])


def test_verdicts_quiet_a_recurring_false_alarm_and_keep_the_window() -> None:
    files = [_bursts_and_a_shift()]
    plain = nab.run_bank(files, "plain", nab.default_config())
    judged = nab.run_with_verdicts(files, "judged", nab.default_config())
    # Lockstep scoring of one file gives the batch scoring's alarms until a verdict.
    first = 5 * 288 + 3 * 288 // 4 + 1  # the burst's second sample, where it is heard
    key = files[0].key
    assert np.array_equal(plain.alarms[key][: first + 1], judged.alarms[key][: first + 1])
    before = nab.score_corpus(files, plain.alarms, "standard").files[key]
    after = nab.score_corpus(files, judged.alarms, "standard").files[key]
    assert before.tp == after.tp == 1
    assert after.fp == before.fp - 1
