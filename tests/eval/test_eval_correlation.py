"""The correlation evaluation on one tiny simulated scenario."""

from __future__ import annotations

import json
from collections import Counter

from typer.testing import CliRunner

from opscope.eval.correlation import (
    Outcome,
    Scenario,
    _alone,
    _plan,
    _simulation,
    build_scenario,
    pairwise,
    quiet_history,
    render,
    run_scenario,
    summarise,
)
from opscope.present.cli.main import app
from opscope.sim.alerts import alert_rules
from opscope.sim.config import AlertRulesConfig


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


def test_each_fault_alone_reproduces_the_alerts_only_it_explains() -> None:
    # The truth of an alert that several faults moved comes from runs with one fault
    # each: they must reproduce every alert that only one fault explains.
    seed, index = 3, 1
    scenario = build_scenario(seed, index, minutes=12)
    assert scenario.ambiguous, "the scenario has alerts that two faults moved"
    sim = _simulation(seed, index)
    plan = _plan(seed, index, sim)
    fault_ids = [fid for fid, _, _ in scenario.faults]
    rules = {r.name: r for r in alert_rules({e: sim.latency_slo(e)
                                             for e in sim.topology().ids})}
    alerts = {(ev.fingerprint, ev.starts_at.isoformat()): ev
              for _, events in scenario.batches for ev in events if ev.ends_at is None}
    clear = {k: ev for k, ev in alerts.items()
             if scenario.truth[k] is not None and k not in scenario.ambiguous}
    wanted = {(ev.entity, ev.starts_at) for ev in clear.values()}
    alone = _alone(seed, index, plan, max(t for _, t in wanted), wanted)
    for key, ev in clear.items():
        state = alone[fault_ids.index(str(scenario.truth[key]))][(ev.entity, ev.starts_at)]
        rule = rules[ev.name]
        assert rule.value(state) > rule.threshold(state), (ev.name, ev.entity)
    for key in scenario.ambiguous:
        assert scenario.truth[key] in fault_ids


def test_a_realistic_storm_has_many_more_alerts_per_fault() -> None:
    basic = build_scenario(seed=3, index=0, minutes=12)
    storm = build_scenario(seed=3, index=0, minutes=12,
                           alerting=AlertRulesConfig(replicas=3, extended=True))
    assert storm.faults == basic.faults

    def per_fault(scenario: Scenario) -> float:
        return sum(t is not None for t in scenario.truth.values()) / len(scenario.faults)

    assert per_fault(storm) >= 3 * per_fault(basic)
    # Noise alerts are the same: the replicas raise no alerts of their own.
    assert sum(t is None for t in storm.truth.values()) == \
        sum(t is None for t in basic.truth.values())


def test_quiet_history_learns_the_noise_that_fires_alone() -> None:
    history = quiet_history(seed=3, hours=1.0)
    assert history["alone"], "the shop's background noise fired alone"
    assert all(history["counts"][k] >= v for k, v in history["alone"].items())
    scenario = build_scenario(seed=3, index=0, minutes=12)
    assert len(run_scenario(scenario, history=history).pred) == len(scenario.truth)


def test_cli_prints_json_and_text() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "correlation", "--scenarios", "1", "--minutes", "12",
                                 "--seed", "3", "--json", "--history-hours", "0.5",
                                 "--replicas", "2", "--extended-rules"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) >= {"correlation", "baseline_time_window", "truth", "faults"}
    assert report["alerting"]["replicas"] == 2 and report["alerting"]["extended"]
    assert report["correlation"]["ranked_top1"] is None  # no ranker plugged in
    text = render(report)
    assert "baseline_time_window" in text and "F1" in text
