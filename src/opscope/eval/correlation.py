"""``opscope eval correlation``: alert -> incident grouping on simulated fault scenarios.

Each scenario is a fresh simulated shop with two or three faults that overlap in time,
on independent entities (no dependency path between two roots), plus background noise
alerts. Firing alerts are re-sent every minute (as Prometheus re-sends to Alertmanager)
and resolved once; the notifications go through dedup -> suppression (the customary
"down mutes the rest" inhibition) -> correlation. ``AlertRulesConfig`` sets how finely
the shop alerts: by default one alert per rule and entity; a realistic storm has replicas
whose per-instance rules fire per replica, and several rules per symptom. The engines
start with what they learned from a day of the same shop without faults (its background
noise), as a deployment that has been running would.

Truth: an alert belongs to a fault that visibly moved its entity (per the simulator's
ground truth) before it fired, while the fault was live; the simulator's background noise
and alerts no fault explains have no fault. When several live faults had moved the entity
(an *ambiguous* alert), it belongs to the fault that, injected alone into the same shop
(the simulator's noise comes from streams of its own, so the runs differ only by the
faults), pushes the alert rule's own measure furthest past its threshold at the moment the
alert fired; on a tie, to the fault that reached the entity first. Ambiguous alerts count
in F1 and are left out of F1*. Scores, pooled over scenarios:

* compression = notifications / incidents (and distinct alerts / incidents), next to
  the same ratio for the true faults;
* pairwise precision/recall/F1 over pairs of alerts: a pair is true when both alerts
  come from the same fault, predicted when both are in the same incident (noise alerts
  have no fault, alerts left out of every incident are alone);
* root candidates: how often the fault's entity is among, or first of, the incident's
  root candidates (a topology-only view; plug a ranker in with ``rank`` for top-1).

The same notifications also run through a time-window-only grouping (the baseline).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from opscope.analyze.correlate import CorrelationEngine
    from opscope.model import Event
    from opscope.model.incident import Incident, IncidentMember
    from opscope.sim import Simulation
    from opscope.sim.alerts import AlertRule
    from opscope.sim.config import AlertRulesConfig
    from opscope.sim.shop import EntityState

RESEND_SECONDS = 60.0
DRAIN_SECONDS = 180.0
BASE = datetime(2026, 3, 2, tzinfo=UTC)

# A ranker hook: given an incident and its members, the entities in rank order.
RankHook = Callable[["Incident", "list[IncidentMember]"], list[str]]


@dataclass
class Scenario:
    index: int
    faults: list[tuple[str, str, str]]  # (fault id, kind, root entity)
    batches: list[tuple[datetime, list[Event]]]
    truth: dict[tuple[str, str], str | None]  # (fingerprint, start iso) -> fault id
    ambiguous: set[tuple[str, str]] = field(default_factory=set)
    """Alerts on an entity that more than one live fault had moved when they fired."""
    entities: list[Any] = field(default_factory=list)
    relations: list[Any] = field(default_factory=list)
    evidence: Any = None
    """The scenario's metric samples and changes (a ``MemoryEvidence``), for ranking."""

    @property
    def notifications(self) -> int:
        return sum(len(events) for _, events in self.batches)


def _reach(relations: Sequence[Any]) -> dict[str, set[str]]:
    """Everything each entity depends on, transitively (hosts included)."""
    deps: dict[str, set[str]] = defaultdict(set)
    for rel in relations:
        deps[rel.source].add(rel.target)
    out: dict[str, set[str]] = {}
    for node in list(deps):
        seen: set[str] = set()
        stack = [node]
        while stack:
            for nxt in deps.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        out[node] = seen
    return defaultdict(set, out)


@dataclass(frozen=True)
class Injection:
    """One planned fault of a scenario."""

    kind: str
    entity: str
    at: datetime
    duration: timedelta
    intensity: float


def _simulation(seed: int, index: int, step_seconds: float = 10.0) -> Simulation:
    from opscope.sim import Simulation, SimulationConfig

    return Simulation(seed=seed * 100_003 + index, start=BASE + timedelta(days=index),
                      step_seconds=step_seconds,
                      config=SimulationConfig(log_volume=0.0, noise_alerts_per_hour=6.0))


def quiet_history(seed: int, alerting: AlertRulesConfig | None = None,
                  hours: float = 24.0) -> dict[str, Any]:
    """What an engine learns from ``hours`` of the same shop without faults (its background
    noise, one evaluation a minute): the learned state a deployment that has been running
    starts a scenario with. Scenarios are scored on their own alerts only."""
    import numpy as np

    from opscope.sim import run_fast
    from opscope.sim.alerts import NOISE, AlertEvaluator
    from opscope.sim.config import AlertRulesConfig

    # Index -1: a day before the first scenario, with streams of its own.
    sim = _simulation(seed, -1, step_seconds=60.0)
    topo = sim.topology()
    rules = AlertEvaluator.from_config({e: sim.latency_slo(e) for e in topo.ids},
                                       alerting or AlertRulesConfig(),
                                       np.random.default_rng([seed, 2]))
    noise_names = {tpl.name for tpl in NOISE}
    engine = _engine(topo.entities, topo.relations, baseline=False)
    for batch in run_fast(sim, timedelta(hours=hours)):
        now = batch.end or sim.now
        events = rules.evaluate(now, sim.states()) + [
            ev for ev in batch.events if ev.name in noise_names]
        engine.process([ev.model_copy(update={"received_at": now}) for ev in events],
                       now=now)
    engine.advance(sim.now + timedelta(hours=1))
    return engine.correlator.learned.to_json()


def _plan(seed: int, index: int, sim: Simulation) -> list[Injection]:
    """2-3 faults on independent entities, each starting 1-4 minutes after the previous."""
    import numpy as np

    from opscope.sim import FaultKind

    rng = np.random.default_rng([seed, index])
    at = sim.now + timedelta(minutes=3)
    used: set[str] = set()
    reach = _reach(sim.topology().relations)
    kinds = sorted(FaultKind)
    plan: list[Injection] = []
    for _ in range(int(rng.integers(2, 4))):
        # Independent faults: no dependency path between two roots, either way, so that
        # which fault caused what is not ambiguous at the root (callers may be shared).
        options = {k: [e for e in sim.faults.candidates(k) if e not in used and not any(
            e in reach[u] or u in reach[e] for u in used)] for k in kinds}
        usable = [k for k in kinds if options[k]]
        if not usable:
            break
        kind = usable[int(rng.integers(len(usable)))]
        targets = options[kind]
        entity = targets[int(rng.integers(len(targets)))]
        used.add(entity)
        duration = timedelta(minutes=float(rng.uniform(4.0, 8.0)))
        plan.append(Injection(kind.value, entity, at, duration, float(rng.uniform(0.7, 1.0))))
        at += timedelta(minutes=float(rng.uniform(1.0, 4.0)))
    return plan


def _alone(seed: int, index: int, plan: Sequence[Injection], until: datetime,
           wanted: set[tuple[str, datetime]]) -> list[dict[tuple[str, datetime], EntityState]]:
    """Per planned fault, the states of the ``wanted`` (entity, time) pairs in the same
    shop with only that fault injected. The simulator draws its background noise from
    streams of its own, so the runs differ only by the faults."""
    from opscope.sim import run_fast

    out = []
    for inj in plan:
        sim = _simulation(seed, index)
        sim.inject(inj.kind, inj.entity, inj.at, inj.duration, inj.intensity)
        seen: dict[tuple[str, datetime], EntityState] = {}
        for batch in run_fast(sim, until - sim.now):
            now = batch.end or sim.now
            for st in sim.states():
                if (st.id, now) in wanted:
                    seen[(st.id, now)] = st
        out.append(seen)
    return out


def build_scenario(seed: int, index: int, minutes: float = 30.0,
                   alerting: AlertRulesConfig | None = None) -> Scenario:
    """Simulate one scenario: 2-3 overlapping faults on distinct entities, plus noise.
    ``alerting`` sets how finely the shop's monitoring alerts (default: the basic rules,
    one alert per rule and entity)."""
    import numpy as np

    from opscope.analyze.rca.live import MemoryEvidence
    from opscope.sim import run_fast
    from opscope.sim.alerts import NOISE, AlertEvaluator, alert_rules
    from opscope.sim.config import AlertRulesConfig

    alerting = alerting or AlertRulesConfig()
    sim = _simulation(seed, index)
    plan = _plan(seed, index, sim)
    for inj in plan:
        sim.inject(inj.kind, inj.entity, inj.at, inj.duration, inj.intensity)
    topo = sim.topology()
    slo = {e: sim.latency_slo(e) for e in topo.ids}
    # The shop's alerts, as fine-grained as ``alerting`` says; its noise alerts as they are.
    rules = AlertEvaluator.from_config(slo, alerting, np.random.default_rng([seed, index, 2]))
    noise_names = {tpl.name for tpl in NOISE}

    first_moved: dict[tuple[str, str], datetime] = {}
    firing: dict[tuple[str, str], Event] = {}
    last_sent: dict[tuple[str, str], datetime] = {}
    batches: list[tuple[datetime, list[Event]]] = []
    alerts: list[Event] = []
    evidence = MemoryEvidence()
    for batch in run_fast(sim, timedelta(minutes=minutes)):
        now = batch.end or sim.now
        evidence.add_samples(batch.metrics)
        evidence.changes.extend(batch.changes)
        for truth in sim.faults.ground_truth(only={f.id for f in sim.faults.active(now)}):
            for entity in truth.affected_entities:
                first_moved.setdefault((truth.fault_id, entity), now)
        events = rules.evaluate(now, sim.states()) + [
            ev for ev in batch.events if ev.name in noise_names]
        out: list[Event] = []
        for ev in events:
            key = (ev.source, ev.fingerprint)
            out.append(ev.model_copy(update={"received_at": now}))
            if ev.ends_at is None:
                firing[key] = ev
                last_sent[key] = now
                alerts.append(ev)
            else:
                firing.pop(key, None)
        for key, ev in sorted(firing.items()):
            if (now - last_sent[key]).total_seconds() >= RESEND_SECONDS:
                out.append(ev.model_copy(update={"received_at": now}))
                last_sent[key] = now
        batches.append((now, out))

    faults = sim.ground_truth()
    movers: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    truth_of: dict[tuple[str, str], str | None] = {}
    for ev in alerts:
        alert_key = (ev.fingerprint, ev.starts_at.isoformat())
        found = []
        if ev.name not in noise_names:  # the simulator's background noise has no fault
            for i, f in enumerate(faults):
                moved = first_moved.get((f.fault_id, ev.entity))
                if moved is None or moved > ev.starts_at:
                    continue
                if not f.start <= ev.starts_at <= f.end + timedelta(seconds=DRAIN_SECONDS):
                    continue
                found.append((moved, i))
        truth_of[alert_key] = faults[min(found)[1]].fault_id if found else None
        if len(found) > 1:
            movers[alert_key] = found
    if movers:
        # Several live faults had moved the entity: the alert belongs to the fault that
        # on its own pushes the alert's own measure furthest past its threshold at that
        # moment (counterfactual runs); on a tie, to the fault that reached it first.
        by_name = {r.name: r for r in alert_rules(slo, alerting)}
        wanted = {(ev.entity, ev.starts_at) for ev in alerts
                  if (ev.fingerprint, ev.starts_at.isoformat()) in movers}
        alone = _alone(seed, index, plan, max(t for _, t in wanted), wanted)
        for ev in alerts:
            found = movers.get((ev.fingerprint, ev.starts_at.isoformat()), [])
            rule = by_name.get(ev.name)
            if not found or rule is None:
                continue

            def strength(i: int, rule: AlertRule = rule, ev: Event = ev) -> float:
                st = alone[i][(ev.entity, ev.starts_at)]
                return rule.value(st) / max(rule.threshold(st), 1e-9)

            best = min(found, key=lambda m: (-strength(m[1]), m))
            truth_of[(ev.fingerprint, ev.starts_at.isoformat())] = faults[best[1]].fault_id
    return Scenario(index=index, faults=[(f.fault_id, f.kind.value, f.root_entity)
                                         for f in faults],
                    batches=batches, truth=truth_of, ambiguous=set(movers),
                    entities=topo.entities,
                    relations=topo.relations, evidence=evidence)


def _engine(entities: Sequence[Any], relations: Sequence[Any], baseline: bool,
            history: dict[str, Any] | None = None) -> CorrelationEngine:
    from opscope.analyze.correlate import CorrelationEngine, EngineConfig, TimeWindowLinker
    from opscope.model.incident import InhibitRule, Matcher, MatchOp

    # The customary inhibition: a service that is down mutes its other alerts.
    config = EngineConfig(inhibit_rules=[InhibitRule(
        id="down-mutes-rest",
        source_matchers=[Matcher(name="alertname", value="ServiceDown")],
        target_matchers=[Matcher(name="alertname", op=MatchOp.NOT_EQUAL,
                                 value="ServiceDown")])])
    engine = CorrelationEngine(
        config, entities, relations,
        linker=(lambda cfg, topo, learned: TimeWindowLinker(cfg)) if baseline else None)
    if history is not None:
        engine.correlator.learned.load_json(history)
    return engine


RANK_AFTER = timedelta(minutes=2)
"""When an incident is ranked: this long after it opens, within the first minutes in
which the live stage re-ranks a young incident (every 10 s for its first 5 minutes)."""


def ranker_for(scenario: Scenario) -> RankHook:
    """The live root-cause ranker over the scenario's own samples and topology."""
    from opscope.analyze.rca.live import rank_incident

    def rank(incident: Incident, members: list[IncidentMember]) -> list[str]:
        ranked = rank_incident(scenario.evidence, incident, members, scenario.relations,
                               incident.opened_at + RANK_AFTER)
        return [h.entity for h in ranked]

    return rank


@dataclass
class Outcome:
    """Per scenario: the predicted and true label of every alert, and the incidents."""

    pred: list[str | None]
    true: list[str | None]
    clear: list[bool]
    """False for alerts whose true fault is ambiguous (several live faults moved it)."""
    incidents: int
    notifications: int
    faults: int
    root_in: int = 0
    root_first: int = 0
    ranked_first: int = 0
    judged: int = 0


def run_scenario(scenario: Scenario, baseline: bool = False,
                 rank: RankHook | None = None,
                 history: dict[str, Any] | None = None) -> Outcome:
    """Replay a scenario through a fresh engine (with ``history``: the learned state of
    ``quiet_history``) and label every alert with the incident it went to."""
    engine = _engine(scenario.entities, scenario.relations, baseline, history)
    signal_of: dict[tuple[str, str], str] = {}
    for now, events in scenario.batches:
        engine.process(events, now=now)
        for ev in events:
            if ev.ends_at is None:
                found = engine.tracker.get(*engine.tracker.key_of(ev)[0])
                if found is not None:
                    signal_of.setdefault((ev.fingerprint, ev.starts_at.isoformat()), found.id)
    engine.advance(scenario.batches[-1][0] + timedelta(hours=1))
    incidents = engine.incidents()
    joined: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    members_of: dict[str, list[IncidentMember]] = {}
    ended = {inc.id: inc.resolved_at for inc in incidents}
    for inc in incidents:
        members_of[inc.id] = engine.members(inc.id)
        for m in members_of[inc.id]:
            joined[m.signal.id].append((m.joined_at, inc.id))
    pred: list[str | None] = []
    true: list[str | None] = []
    clear: list[bool] = []
    for (fp, start), fault in sorted(scenario.truth.items()):
        true.append(fault)
        clear.append((fp, start) not in scenario.ambiguous)
        # The incident that held this firing once it arrived: its latest membership made
        # by then, in an incident not yet resolved when it fired (a reopened alert keeps
        # its signal id; it stays in its incident if that is still active, otherwise
        # earlier memberships of the same id belong to earlier firings).
        t0 = datetime.fromisoformat(start)
        slack = timedelta(seconds=RESEND_SECONDS + 1)
        options = sorted(j for j in joined.get(signal_of.get((fp, start), ""), [])
                         if j[0] <= t0 + slack and (ended.get(j[1]) or t0) >= t0)
        pred.append(options[-1][1] if options else None)
    out = Outcome(pred=pred, true=true, clear=clear, incidents=len(incidents),
                  notifications=scenario.notifications, faults=len(scenario.faults))
    roots = {fid: root for fid, _, root in scenario.faults}
    for inc in incidents:
        labels = [t for p, t in zip(pred, true, strict=True) if p == inc.id and t]
        if not labels:
            continue
        fault = Counter(labels).most_common(1)[0][0]
        out.judged += 1
        out.root_in += roots[fault] in inc.root_candidates
        out.root_first += bool(inc.root_candidates) and inc.root_candidates[0] == roots[fault]
        if rank is not None:
            ranked = rank(inc, members_of[inc.id])
            out.ranked_first += bool(ranked) and ranked[0] == roots[fault]
    return out


def _pairs(counts: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def pairwise(outcomes: Sequence[Outcome], clear_only: bool = False) -> dict[str, float]:
    """Pairwise precision, recall and F1, pooled over scenarios (pairs never cross)."""
    tp = fp_pairs = fn_pairs = 0
    for o in outcomes:
        keep = [i for i, c in enumerate(o.clear) if c or not clear_only]
        # Unassigned / noise items are singletons: give each a unique label.
        pred = [o.pred[i] if o.pred[i] is not None else f"_alone{i}" for i in keep]
        true = [o.true[i] if o.true[i] is not None else f"_noise{i}" for i in keep]
        both = _pairs(Counter(zip(pred, true, strict=True)))
        tp += both
        fp_pairs += _pairs(Counter(pred)) - both
        fn_pairs += _pairs(Counter(true)) - both
    precision = tp / (tp + fp_pairs) if tp + fp_pairs else 1.0
    recall = tp / (tp + fn_pairs) if tp + fn_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def summarise(outcomes: Sequence[Outcome], ranked: bool) -> dict[str, Any]:
    alerts = sum(len(o.true) for o in outcomes)
    incidents = sum(o.incidents for o in outcomes)
    notes = sum(o.notifications for o in outcomes)
    faults = sum(o.faults for o in outcomes)
    judged = sum(o.judged for o in outcomes)
    report: dict[str, Any] = {
        "incidents": incidents,
        "compression": round(notes / incidents, 2) if incidents else None,
        "alert_compression": round(alerts / incidents, 2) if incidents else None,
        **pairwise(outcomes),
        "unambiguous": pairwise(outcomes, clear_only=True),
        "noise_alerts_in_incidents": sum(
            1 for o in outcomes for p, t in zip(o.pred, o.true, strict=True)
            if t is None and p is not None),
        "root_in_candidates": round(sum(o.root_in for o in outcomes) / judged, 4)
        if judged else None,
        "root_first_candidate": round(sum(o.root_first for o in outcomes) / judged, 4)
        if judged else None,
        "ranked_top1": (round(sum(o.ranked_first for o in outcomes) / judged, 4)
                        if judged else None) if ranked else None,
    }
    report["_totals"] = {"alerts": alerts, "notifications": notes, "faults": faults}
    return report


def evaluate(seed: int = 7, scenarios: int = 20, minutes: float = 30.0,
             rank: RankHook | None = None, use_ranker: bool = False,
             alerting: AlertRulesConfig | None = None,
             history_hours: float = 24.0) -> dict[str, Any]:
    """Score grouping; with ``rank`` (or ``use_ranker``: the live root-cause ranker over
    each scenario's samples) also how often the true root ranks first. ``alerting`` sets
    how finely the shop alerts; the engines start with ``history_hours`` of the shop's
    quiet history learned (0: none)."""
    from opscope.sim.config import AlertRulesConfig

    started = time.perf_counter()
    history = quiet_history(seed, alerting, history_hours) if history_hours > 0 else None
    built = [build_scenario(seed, i, minutes, alerting) for i in range(scenarios)]
    ours = [run_scenario(s, baseline=False,
                         rank=rank or (ranker_for(s) if use_ranker else None),
                         history=history) for s in built]
    base = [run_scenario(s, baseline=True, history=history) for s in built]
    ours_report = summarise(ours, rank is not None or use_ranker)
    totals = ours_report.pop("_totals")
    summarise_base = summarise(base, False)
    summarise_base.pop("_totals")
    return {
        "seed": seed, "scenarios": scenarios, "minutes": minutes,
        "alerting": (alerting or AlertRulesConfig()).model_dump(),
        "history_hours": history_hours,
        "faults": totals["faults"], "alerts": totals["alerts"],
        "notifications": totals["notifications"],
        "noise_alerts": sum(1 for o in ours for t in o.true if t is None),
        "ambiguous_alerts": sum(1 for o in ours for c in o.clear if not c),
        "truth": {
            "compression": round(totals["notifications"] / totals["faults"], 2),
            "alert_compression": round(totals["alerts"] / totals["faults"], 2),
        },
        "correlation": ours_report,
        "baseline_time_window": summarise_base,
        "seconds": round(time.perf_counter() - started, 1),
    }


def render(report: dict[str, Any]) -> str:
    alerting = report["alerting"]
    lines = [
        f"scenarios {report['scenarios']} (seed {report['seed']}), faults {report['faults']}, "
        f"alerts {report['alerts']} ({report['noise_alerts']} noise), "
        f"notifications {report['notifications']}",
        f"alert rules: {'extended' if alerting['extended'] else 'basic'}, "
        f"{alerting['replicas']} replica(s) per service; engine history "
        f"{report['history_hours']:g} h of the quiet shop",
        f"truth: {report['truth']['compression']}x notifications/fault, "
        f"{report['truth']['alert_compression']}x alerts/fault",
        f"{report['ambiguous_alerts']} alerts are on entities several live faults moved "
        "(F1* leaves them out)",
        f"{'':22}{'incidents':>10}{'compr.':>8}{'alerts/inc':>11}{'P':>8}{'R':>8}{'F1':>8}"
        f"{'F1*':>8}{'noise-in':>9}",
    ]
    for name in ("correlation", "baseline_time_window"):
        r = report[name]
        lines.append(
            f"{name:22}{r['incidents']:>10}{r['compression'] or 0:>8.1f}"
            f"{r['alert_compression'] or 0:>11.2f}{r['precision']:>8.3f}{r['recall']:>8.3f}"
            f"{r['f1']:>8.3f}{r['unambiguous']['f1']:>8.3f}{r['noise_alerts_in_incidents']:>9}")
    r = report["correlation"]
    lines.append(f"root cause among root candidates: {r['root_in_candidates']}, first: "
                 f"{r['root_first_candidate']}; ranker top-1: "
                 f"{r['ranked_top1'] if r['ranked_top1'] is not None else 'n/a (no ranker)'}")
    lines.append(f"({report['seconds']} s)")
    return "\n".join(lines)


def correlation_command(
    seed: Annotated[int, typer.Option(help="Seed of the scenarios.")] = 7,
    scenarios: Annotated[int, typer.Option(min=1, help="Number of fault scenarios.")] = 20,
    minutes: Annotated[float, typer.Option(min=10, help="Event time per scenario.")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    rank: Annotated[bool, typer.Option(
        "--rank", help="Rank each incident's root causes with the live ranker over the "
                       "scenario's metrics (adds the 'ranker top-1' figure).")] = False,
    replicas: Annotated[int, typer.Option(
        min=1, max=64, help="Replicas each simulated service runs; its per-instance alert "
                            "rules fire once per replica (a realistic storm: try 3).")] = 1,
    extended_rules: Annotated[bool, typer.Option(
        "--extended-rules", help="Alert on each symptom several ways (p99 latency, CPU "
                                 "throttling, error-budget burn, black-box probes, ...), as "
                                 "a mature rule set does.")] = False,
    history_hours: Annotated[float, typer.Option(
        min=0, help="Hours of the shop's quiet history (background noise) the engine "
                    "learns from before the scenarios; 0: none.")] = 24.0,
    live_metrics: Annotated[float, typer.Option(
        "--live-metric-history", min=0,
        help="With --live-faults: also run the metric detectors, warmed on this many hours "
             "of the shop's metrics as 'opscope demo' warms them (e.g. 24); 0: off.")] = 0.0,
    live_faults: Annotated[int, typer.Option(
        min=0, help="Instead: replay this many single faults through the live incident "
                    "stage and count those that become one incident whose root cause "
                    "ranks first within 60 s of event time after the fault start.")] = 0,
) -> None:
    """Replay simulated overlapping faults with noise; score alert -> incident grouping."""
    if live_faults:
        from opscope.eval.live_faults import evaluate_live, render_live

        live = evaluate_live(seed, live_faults, metric_history_hours=live_metrics)
        typer.echo(json.dumps(live, indent=1) if as_json else render_live(live))
        return
    from opscope.sim.config import AlertRulesConfig

    alerting = AlertRulesConfig(replicas=replicas, extended=extended_rules)
    report = evaluate(seed, scenarios, minutes, use_ranker=rank, alerting=alerting,
                      history_hours=history_hours)
    typer.echo(json.dumps(report, indent=1) if as_json else render(report))
