"""The live-fault replay: one fault through the live incident stage, scored."""

from __future__ import annotations

from opscope.eval.live_faults import evaluate_live, render_live


def test_one_bad_deploy_becomes_one_incident_with_its_cause_first() -> None:
    # Index 0 is the first fault kind in order: a bad deploy, whose change record and
    # error templates point at the deployed service from the start.
    report = evaluate_live(seed=7, faults=1)
    [fault] = report["faults_detail"]
    assert fault["kind"] == "bad_deploy" and fault["incidents"] == 1
    assert fault["final_top"] == fault["root"]
    assert fault["first_right_s"] is not None and fault["first_right_s"] <= 60
    assert report["one_incident_right_cause_first_within_60s"] == 1
    assert "bad_deploy" in render_live(report)


def test_metric_detectors_can_join_the_replay() -> None:
    # Warmed on a few hours only, to stay fast: the point is that the replay runs with
    # the metric stage in the loop and still finds the deploy.
    report = evaluate_live(seed=7, faults=1, metric_history_hours=2)
    assert report["metric_history_hours"] == 2
    [fault] = report["faults_detail"]
    assert fault["incidents"] == 1 and fault["final_top"] == fault["root"]
