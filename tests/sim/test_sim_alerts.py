"""Alert rules of the simulated shop: the basic set, replicas and the extended set."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from opscope.model import Event
from opscope.sim import FaultKind, Simulation, SimulationConfig, run_fast
from opscope.sim.alerts import AlertEvaluator, alert_rules, default_rules
from opscope.sim.config import AlertRulesConfig
from opscope.sim.shop import EntityState

START = datetime(2026, 3, 2, 10, tzinfo=UTC)


def replay(config: AlertRulesConfig | None, minutes: float = 6.0) -> tuple[list[Event],
                                                                          list[Event]]:
    """A bad deploy on checkout; the simulator's own alerts and those of ``config``."""
    sim = Simulation(seed=5, start=START, config=SimulationConfig(log_volume=0.0,
                                                                  noise_alerts_per_hour=0.0))
    sim.inject(FaultKind.BAD_DEPLOY, "checkout", START + timedelta(minutes=1),
               timedelta(minutes=4))
    slo = {e: sim.latency_slo(e) for e in sim.topology().ids}
    rules = AlertEvaluator.from_config(slo, config or AlertRulesConfig(),
                                       np.random.default_rng(1))
    own: list[Event] = []
    ours: list[Event] = []
    for batch in run_fast(sim, timedelta(minutes=minutes)):
        own += batch.events
        ours += rules.evaluate(batch.end or sim.now, sim.states())
    return own, ours


def test_the_default_config_is_the_simulators_own_rule_set() -> None:
    own, ours = replay(None)
    assert own, "the bad deploy raised alerts"
    assert [e.model_dump() for e in ours] == [e.model_dump() for e in own]
    assert all("instance" not in e.labels for e in ours)


def test_replicas_fire_per_instance_rules_once_per_replica() -> None:
    _, basic = replay(None)
    _, replicated = replay(AlertRulesConfig(replicas=3))
    firing = [e for e in replicated if e.ends_at is None]
    per_instance = [e for e in firing if "instance" in e.labels]
    assert per_instance
    for ev in per_instance:
        assert ev.labels["instance"].startswith(ev.entity + "-")
        assert ev.labels["service"] == ev.entity  # still the service's alert
    # A (rule, service) fires on up to three instances, each its own alert.
    names = Counter((e.name, e.entity) for e in per_instance)
    assert max(names.values()) == 3
    assert {(e.name, e.entity) for e in basic if e.entity == "checkout"} <= set(names)
    assert len({e.fingerprint for e in per_instance}) == len(per_instance)
    assert len(firing) > len([e for e in basic if e.ends_at is None])


def test_a_saturated_resource_is_saturated_on_every_replica() -> None:
    rule = next(r for r in default_rules({"svc": 1.0}) if r.name == "ConnectionPoolExhausted")
    assert rule.fraction and rule.per_instance
    evaluator = AlertEvaluator([rule], replicas=4, spread=0.3, rng=np.random.default_rng(0))
    full = EntityState(id="svc", kind="service", host="h", pool_in_use=20.0, pool_size=20.0)
    events: list[Event] = []
    for step in range(5):
        events += evaluator.evaluate(START + timedelta(seconds=10 * step), [full])
    assert sorted(e.labels["instance"] for e in events) == [f"svc-{i}" for i in range(4)]


def test_the_extended_rule_set_watches_each_symptom_several_ways() -> None:
    slo = {"svc": 1.0}
    basic = {r.name for r in alert_rules(slo)}
    extended = {r.name for r in alert_rules(slo, AlertRulesConfig(extended=True))}
    assert basic < extended
    assert {"HighLatencyP99", "ErrorBudgetBurn", "ProbeFailed"} <= extended - basic
    _, ours = replay(AlertRulesConfig(extended=True))
    assert {"ErrorBudgetBurn", "ProbeFailed"} & {e.name for e in ours}


def test_replicas_need_a_random_generator() -> None:
    with pytest.raises(ValueError, match="random generator"):
        AlertEvaluator(default_rules({}), replicas=2)
