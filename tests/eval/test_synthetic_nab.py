"""The synthetic NAB-style corpus: its format, its windows, and its anomalies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from opscope.eval import nab
from opscope.eval import synthetic_nab as synth
from opscope.present.cli.main import app


@pytest.fixture(scope="module")
def corpus() -> list[synth.SyntheticFile]:
    return synth.generate_corpus(seed=11, files_per_group=2)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, corpus: list[synth.SyntheticFile]) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synth.write_corpus(corpus, out, seed=11)
    return out


@pytest.fixture(scope="module")
def loaded(written: Path) -> list[nab.NabFile]:
    files, labelled = nab.load_corpus(written)
    assert labelled
    return files


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        synth.write_corpus(synth.generate_corpus(seed, 1), tmp_path / name, seed)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert tree(tmp_path / "a") != tree(tmp_path / "c")
    assert "seed 5" in (tmp_path / "a" / "README.txt").read_text()


def test_a_file_does_not_change_with_the_corpus_size(corpus: list[synth.SyntheticFile]) -> None:
    smaller = {f.key: f for f in synth.generate_corpus(seed=11, files_per_group=1)}
    compared = 0
    for f in corpus:
        if f.key in smaller:
            assert np.array_equal(smaller[f.key].values, f.values)
            assert smaller[f.key].windows == f.windows
            compared += 1
    assert compared == len(smaller) > 0


def test_the_corpus_loads_with_the_nab_harness(
    written: Path, loaded: list[nab.NabFile], corpus: list[synth.SyntheticFile]
) -> None:
    files = loaded
    by_key = {f.key: f for f in corpus}
    assert sorted(f.key for f in files) == sorted(by_key)
    for loaded in files:
        made = by_key[loaded.key]
        # load_corpus maps every window's timestamps back to rows (it raises otherwise).
        assert loaded.windows == made.windows
        assert np.all(np.diff(loaded.t) > 0)
        assert np.allclose(loaded.values, made.values, atol=10.0 ** -made.decimals)
        assert 1_200 <= len(loaded.t) <= 16_000
    profiles = json.loads((written / "config" / "profiles.json").read_text())
    for name, (a_tp, a_fp, a_fn) in nab.PROFILES.items():
        matrix = profiles[name]["CostMatrix"]
        assert (matrix["tpWeight"], matrix["fpWeight"], matrix["fnWeight"]) == (a_tp, a_fp, a_fn)


def test_every_group_is_present_with_its_cadence(corpus: list[synth.SyntheticFile]) -> None:
    groups = {f.key.split("/")[0] for f in corpus}
    assert groups == set(synth.GROUPS)
    for f in corpus:
        steps = np.diff(f.t)
        if f.key.startswith("hourlyBusiness/"):
            assert np.median(steps) == synth.HOUR
        if f.key.startswith("trafficGauges/"):
            assert len(np.unique(steps)) > 3  # irregular sampling


def test_windows_follow_nabs_rule_and_avoid_probation(
    written: Path, loaded: list[nab.NabFile]
) -> None:
    points = json.loads((written / "labels" / "points.json").read_text())
    checked = 0
    for f in loaded:
        assert f.windows is not None
        rows = sorted(f.timestamps.index(p) for p in points[f.key])
        if not rows:
            assert f.windows == []
            continue
        n = len(f.t)
        half = int(0.1 * n / len(rows)) // 2
        assert all(s >= nab.probation(n) for s, _ in f.windows)
        if len(f.windows) == len(rows):  # no merge: one window centred on each point
            assert f.windows == [(r - half, r + half) for r in rows]
            checked += 1
    assert checked > 0


@pytest.mark.parametrize(
    ("n", "labels", "expected"),
    [
        (1000, [], []),
        (1000, [500], [(450, 550)]),
        (1000, [400, 800], [(375, 425), (775, 825)]),
        (1000, [400, 420], [(375, 445)]),  # overlapping windows merge
        (1000, [160, 600], [(575, 625)]),  # a window reaching into probation is deleted
        (1000, [990], [(940, 999)]),  # clipped to the file
    ],
)
def test_nab_windows_by_hand(n: int, labels: list[int], expected: list[tuple[int, int]]) -> None:
    assert synth.nab_windows(n, labels) == expected


def test_clean_series_have_no_windows(written: Path, corpus: list[synth.SyntheticFile]) -> None:
    windows = json.loads((written / "labels" / "windows.json").read_text())
    clean = [f for f in corpus if f.key.startswith(f"{synth.CLEAN_GROUP}/")]
    assert clean
    for f in clean:
        assert f.anomalies == [] and windows[f.key] == []
    assert all(f.windows for f in corpus if f not in clean)


def test_a_perfect_detector_scores_100_and_a_null_one_0(loaded: list[nab.NabFile]) -> None:
    files = loaded
    perfect, null = {}, {}
    for f in files:
        null[f.key] = np.zeros(len(f.t), dtype=bool)
        perfect[f.key] = null[f.key].copy()
        for s, _ in f.windows or []:
            perfect[f.key][s] = True
    for profile in nab.PROFILES:
        assert nab.score_corpus(files, perfect, profile).score == pytest.approx(100.0)
        assert nab.score_corpus(files, null, profile).score == pytest.approx(0.0)


def flat_signal(n: int = 3000) -> synth.Signal:
    t = 1.4e9 + 300.0 * np.arange(n)
    level = np.full(n, 50.0)
    return synth.Signal(
        "flat", t, level, np.full(n, 40.0), np.full(n, 1.0), "additive", 5.0, ("spike",)
    )


KINDS = ["spike", "level_shift", "variance", "drift_failure", "flatline", "dropout",
         "seasonal_break"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_anomaly_changes_the_series_at_its_label_and_not_long_before(kind: str) -> None:
    signal, row = flat_signal(), 2000
    edits = synth.Edits(signal.level.copy(), signal.scale.copy())
    anomaly = synth.inject(np.random.default_rng(3), signal, edits, kind, row, room=500, lead=300)
    assert anomaly.row == row
    plain = synth.sample(np.random.default_rng(4), signal, synth.Edits(signal.level, signal.scale))
    changed = synth.sample(np.random.default_rng(4), signal, edits)
    moved = np.flatnonzero(changed != plain)
    assert row in moved
    # Only a drift starts before its label point, and no earlier than it may.
    assert moved.min() >= row - 300
    assert moved.max() < row + 500


def test_the_command_writes_a_corpus_and_refuses_a_used_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "corpus"
    args = ["eval", "synth-nab", "--out", str(out), "--seed", "2", "--files-per-group", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    files, labelled = nab.load_corpus(out)
    assert labelled and len(files) == len(synth.GROUPS)
    again = runner.invoke(app, args)
    assert again.exit_code != 0


def test_the_corpus_in_memory_is_the_corpus_read_from_disk(
    corpus: list[synth.SyntheticFile], loaded: list[nab.NabFile]
) -> None:
    by_key = {f.key: f for f in loaded}
    for f in synth.as_nab_files(corpus):
        disk = by_key[f.key]
        assert f.timestamps == [s[:19] for s in disk.timestamps]
        assert np.array_equal(f.t, disk.t) and np.array_equal(f.values, disk.values)
        assert f.windows == disk.windows


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("3", [3]), ("1-4", [1, 2, 3, 4]), ("5,2,5", [5, 2]), ("1-3,7", [1, 2, 3, 7])],
)
def test_seed_lists(text: str, seeds: list[int]) -> None:
    assert synth.parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "4-2", "1-", "0-5000"])
def test_bad_seed_lists_are_refused(text: str) -> None:
    result = CliRunner().invoke(app, ["eval", "synth-nab-score", "--seeds", text])
    assert result.exit_code == 2
    assert "--seeds" in result.output


def test_scoring_seeds_in_memory_matches_scoring_the_written_corpus(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["eval", "synth-nab-score", "--seeds", "2", "--files-per-group", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    written = CliRunner().invoke(
        app, ["eval", "synth-nab", "--out", str(tmp_path / "c"), "--seed", "2",
              "--files-per-group", "1"]
    )
    assert written.exit_code == 0, written.output
    scored = CliRunner().invoke(app, ["eval", "nab", "--data", str(tmp_path / "c"), "--json"])
    runs = json.loads(scored.output)["runs"]
    for run, name in zip(runs, ("ensemble", "zscore"), strict=True):
        mine = report["seeds"]["2"][name]
        for profile, values in run["profiles"].items():
            assert mine[profile] == values["score"]
        assert mine["windows"] == run["profiles"]["standard"]["windows"]
    assert report["mean"]["ensemble"]["standard"]["standard_error"] == 0.0
