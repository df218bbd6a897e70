"""``opscope eval rca``: metrics on hand-computed cases and the command on tiny fixtures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from opscope.analyze.rca import rank_root_causes
from opscope.eval.rca import (
    LABEL_KEYS,
    ac_at_k,
    avg_at_5,
    case_inputs,
    dedupe,
    discover_cases,
    evaluate,
    load_case,
    random_ac_at_k,
    rca_command,
    read_table,
)

CASES = Path(__file__).parent.parent / "fixtures" / "rca" / "cases"


@pytest.mark.parametrize(
    ("ranked", "truth", "expected"),
    [
        (["a", "b", "c", "d", "e"], ["c"], [0, 0, 1, 1, 1]),
        (["a", "b", "c", "d", "e"], ["a", "d"], [1, 0.5, 0.5, 1, 1]),
        (["a", "b"], ["z"], [0, 0, 0, 0, 0]),
        (["x", "y", "z"], ["y", "z", "x"], [1, 1, 1, 1, 1]),
    ],
)
def test_ac_at_k_by_hand(ranked: list[str], truth: list[str], expected: list[float]) -> None:
    assert [ac_at_k(ranked, truth, k) for k in range(1, 6)] == pytest.approx(expected)
    assert avg_at_5(ranked, truth) == pytest.approx(sum(expected) / 5)


def test_random_baseline_is_the_exact_expectation() -> None:
    # 4 entities, one cause: P(cause in top k) = k / 4.
    assert [random_ac_at_k(4, ["a"], k) for k in range(1, 6)] == pytest.approx(
        [0.25, 0.5, 0.75, 1.0, 1.0])
    # 10 entities, two causes: E|top-1 ∩ truth| = 0.2; at k=2, 0.4 hits of 2 possible.
    assert random_ac_at_k(10, ["a", "b"], 1) == pytest.approx(0.2)
    assert random_ac_at_k(10, ["a", "b"], 2) == pytest.approx(0.2)


def test_dedupe_keeps_first_occurrence() -> None:
    assert dedupe(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_discovery_finds_cases_two_levels_down_only() -> None:
    found = [p.name for p in discover_cases(CASES)]
    assert found == ["inc3", "inc1", "inc2"]  # sorted by path: other/ before shop/


def test_labels_are_stripped_before_the_ranker() -> None:
    case = load_case(CASES / "shop" / "inc1")
    assert case.truth == ["db"]
    assert not set(LABEL_KEYS) & set(case.meta)


def test_ranker_works_on_a_case_without_labels(tmp_path: Path) -> None:
    # Copy a labelled case, delete every label from its case.json, and rank it: the
    # answer must be the same as for the labelled copy.
    bare = tmp_path / "shop" / "inc1"
    shutil.copytree(CASES / "shop" / "inc1", bare)
    meta = json.loads((bare / "case.json").read_text())
    for key in LABEL_KEYS:
        meta.pop(key, None)
    (bare / "case.json").write_text(json.dumps(meta))
    unlabelled = load_case(bare)
    assert unlabelled.truth == []
    ranked = [h.entity for h in rank_root_causes(case_inputs(unlabelled))]
    labelled = [h.entity for h in rank_root_causes(case_inputs(load_case(CASES / "shop" / "inc1")))]
    assert ranked == labelled
    assert ranked[0] == "db"


def test_case_inputs_split_normal_rows_and_read_separate_reference() -> None:
    inc1 = case_inputs(load_case(CASES / "shop" / "inc1"))
    assert len(inc1.series) == 4 and len(inc1.reference) == 4
    assert inc1.reference[0].times.size == 12
    assert inc1.series[0].times.size == 8
    assert list(inc1.series[0].times) == sorted(inc1.series[0].times)  # rows were unsorted
    assert inc1.target == "web_latency"
    assert {(r.source, r.target) for r in inc1.edges} == {
        ("web", "api"), ("api", "db"), ("web", "cache")}
    inc2 = case_inputs(load_case(CASES / "shop" / "inc2"), delay_s=60)
    assert inc2.fault_time == 5090
    assert inc2.reference[0].times.size == 20
    inc3 = case_inputs(load_case(CASES / "other" / "inc3"))
    assert inc3.edges == [] and inc3.topology_source == "none" and inc3.target is None


def test_missing_cells_read_as_nan() -> None:
    table = read_table(CASES / "shop" / "inc1" / "metrics.csv")
    cache = table.columns["cache_latency"]
    assert sum(1 for v in cache if v != v) == 1


def test_evaluate_reports_per_system_and_overall() -> None:
    report, predictions = evaluate(CASES)
    assert report["cases"] == 3 and report["labelled"] == 2
    assert set(report["systems"]) == {"other", "shop", "all"}
    shop = report["systems"]["shop"]
    assert set(shop) == {"opscope", "nsigma", "nsigma_std", "random"}
    assert set(shop["opscope"]) == {"0", "60", "-60"}
    assert shop["opscope"]["0"]["cases"] == 2
    assert shop["opscope"]["0"]["AC@1"] == pytest.approx(1.0)
    assert shop["random"]["0"]["Avg@5"] == pytest.approx(0.7)
    # The unlabelled case is ranked and saved but not scored.
    assert report["systems"]["other"]["opscope"] == {}
    assert predictions["inc3"][0] == "q"
    assert predictions["inc1"][0] == "db"


def test_command_prints_table_json_and_saves_predictions(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(rca_command)
    runner = CliRunner()
    out = tmp_path / "pred.json"
    result = runner.invoke(app, ["--data", str(CASES), "--save-predictions", str(out)])
    assert result.exit_code == 0, result.output
    assert "system: shop" in result.output and "nsigma" in result.output
    assert "no labelled cases" in result.output
    saved = json.loads(out.read_text())
    assert set(saved) == {"inc1", "inc2", "inc3"}
    assert saved["inc2"][0] == "cache"
    result = runner.invoke(app, ["--data", str(CASES), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["systems"]["all"]["opscope"]["0"]["cases"] == 2


def test_command_fails_cleanly_without_cases(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(rca_command)
    result = CliRunner().invoke(app, ["--data", str(tmp_path)])
    assert result.exit_code == 2


def test_rows_without_a_time_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("time,a,b\n10,1,2\n,3,4\nx,5,6\n5,7,\n", encoding="utf-8")
    table = read_table(path)
    assert table.times == [10.0, 5.0]
    assert table.columns["a"] == [1.0, 7.0]
    assert table.columns["b"][0] == 2.0 and table.columns["b"][1] != table.columns["b"][1]
