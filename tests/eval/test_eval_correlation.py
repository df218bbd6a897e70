"""The correlation evaluation on one tiny simulated scenario."""

from __future__ import annotations

import json
from collections import Counter

from typer.testing import CliRunner

from opscope.eval.correlation import (
    Outcome,
    build_scenario,
    pairwise,
    render,
    run_scenario,
    summarise,
)
from opscope.present.cli.main import app


def test_pairwise_scores_on_known_labels() -> None:
    # Truth: a a a b b, one noise alert. Prediction merges b into a's incident.
    o = Outcome(pred=["x", "x", "x", "x", "x", None], true=["a", "a", "a", "b", "b", None],
                clear=[True] * 6, incidents=1, notifications=12, faults=2)
    scores = pairwise([o])
    # predicted pairs 10, true pairs 3 + 1 = 4, shared 4.
    assert scores == {"precision": 0.4, "recall": 1.0, "f1": round(2 * 0.4 / 1.4, 4)}
    perfect = Outcome(pred=["x", "x", "x", "y", "y", None], true=o.true, clear=o.clear,
                      incidents=2, notifications=12, faults=2)
    assert pairwise([perfect]) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    report = summarise([perfect], ranked=False)
    assert report["compression"] == 6.0 and report["alert_compression"] == 3.0


def test_tiny_scenario_end_to_end() -> None:
    scenario = build_scenario(seed=3, index=0, minutes=14)
    assert len(scenario.faults) >= 2
    assert len({root for _, _, root in scenario.faults}) == len(scenario.faults)
    labelled = Counter(t for t in scenario.truth.values() if t is not None)
    assert labelled, "the faults raised alerts"
    ours = run_scenario(scenario)
    base = run_scenario(scenario, baseline=True)
    assert len(ours.pred) == len(scenario.truth)
    ours_f1, base_f1 = pairwise([ours])["f1"], pairwise([base])["f1"]
    assert ours_f1 >= base_f1
    assert ours_f1 >= 0.8
    ranked = run_scenario(scenario, rank=lambda inc, members: list(inc.root_candidates))
    assert ranked.ranked_first == ranked.root_first  # the hook sees every judged incident


def test_cli_prints_json_and_text() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "correlation", "--scenarios", "1", "--minutes", "12",
                                 "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) >= {"correlation", "baseline_time_window", "truth", "faults"}
    assert report["correlation"]["ranked_top1"] is None  # no ranker plugged in
    text = render(report)
    assert "baseline_time_window" in text and "F1" in text
