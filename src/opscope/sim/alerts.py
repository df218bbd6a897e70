"""Threshold alert rules over the shop's state, fired and resolved as Alertmanager would.

Each rule is ``value > threshold`` held for ``for_seconds`` (Prometheus ``for:``). An alert
keeps one fingerprint per rule and entity (and instance) across all its firings, so a
flapping alert is one identity that fires, resolves and fires again.

By default every rule fires once per entity. ``AlertRulesConfig`` makes the monitoring as
fine-grained as a real deployment's: services run replicas and the per-instance rules fire
once per replica, and an extended rule set alerts on each symptom several ways.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from opscope.model import Event, Severity, Status, fingerprint_of
from opscope.sim.config import AlertRulesConfig
from opscope.sim.shop import EntityState
from opscope.sim.topology import CACHE, DATABASE, HOST, QUEUE, SERVICE, Topology

SOURCE = "sim-alertmanager"
RUNBOOKS = "https://runbooks.shop.example/alerts/"


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    kinds: tuple[str, ...]
    severity: Severity
    for_seconds: float
    value: Callable[[EntityState], float]
    threshold: Callable[[EntityState], float]
    summary: str
    """Formatted with ``entity``, ``value`` and ``threshold``."""
    applies: Callable[[EntityState], bool] = lambda st: True
    per_instance: bool = False
    """On services, evaluated per replica (a rule aggregated ``by (instance)``)."""
    fraction: bool = False
    """The value is a share of a limit (at most 1): replicas differ in their headroom."""


def default_rules(latency_slo: dict[str, float]) -> list[AlertRule]:
    """The shop's alerting rules; ``latency_slo`` is each entity's p95 threshold (seconds)."""
    def slo(st: EntityState) -> float:
        return latency_slo[st.id]

    stores = (DATABASE, CACHE, QUEUE)
    return [
        AlertRule("ServiceDown", (SERVICE, *stores), Severity.CRITICAL, 0,
                  lambda st: 0.0 if st.up else 1.0, lambda st: 0.5,
                  "{entity} is down: its scrape target has not answered", per_instance=True),
        AlertRule("HighLatency", (SERVICE,), Severity.WARNING, 60, lambda st: st.p95, slo,
                  "{entity} p95 latency is {value:.2f}s (threshold {threshold:.2f}s)",
                  per_instance=True),
        AlertRule("HighErrorRate", (SERVICE,), Severity.ERROR, 60,
                  lambda st: st.error_ratio, lambda st: 0.05,
                  "{entity} error ratio is {value:.1%} (threshold {threshold:.0%})",
                  per_instance=True),
        AlertRule("DatastoreLatencyHigh", stores, Severity.WARNING, 60, lambda st: st.p95, slo,
                  "{entity} p95 operation latency is {value:.3f}s "
                  "(threshold {threshold:.3f}s)"),
        AlertRule("HighCPU", (SERVICE, DATABASE, HOST), Severity.WARNING, 120,
                  lambda st: st.cpu, lambda st: 0.9,
                  "{entity} CPU usage is {value:.0%} (threshold {threshold:.0%})",
                  per_instance=True, fraction=True),
        AlertRule("MemoryPressure", (SERVICE, CACHE, DATABASE), Severity.WARNING, 60,
                  lambda st: st.memory / st.memory_limit, lambda st: 0.9,
                  "{entity} uses {value:.0%} of its memory limit (threshold {threshold:.0%})",
                  per_instance=True, fraction=True),
        AlertRule("ConnectionPoolExhausted", (SERVICE, DATABASE), Severity.ERROR, 30,
                  lambda st: st.pool_in_use / st.pool_size, lambda st: 0.95,
                  "{entity} connection pool is {value:.0%} in use "
                  "(threshold {threshold:.0%})",
                  applies=lambda st: st.pool_size > 0, per_instance=True, fraction=True),
        AlertRule("QueueBacklog", (QUEUE,), Severity.WARNING, 120,
                  lambda st: st.queue_depth, lambda st: 1000.0,
                  "{entity} holds {value:.0f} messages (threshold {threshold:.0f})"),
        AlertRule("CacheHitRatioLow", (CACHE,), Severity.WARNING, 120,
                  lambda st: 1.0 - st.hit_ratio, lambda st: 0.2,
                  "{entity} miss ratio is {value:.0%} (threshold {threshold:.0%})"),
        AlertRule("HostPacketLoss", (HOST,), Severity.WARNING, 60,
                  lambda st: st.loss, lambda st: 0.02,
                  "{entity} drops {value:.1%} of packets (threshold {threshold:.0%})"),
        AlertRule("DiskSpaceLow", (HOST,), Severity.WARNING, 60,
                  lambda st: st.disk, lambda st: 0.85,
                  "{entity} root filesystem is {value:.1%} full (threshold {threshold:.0%})"),
    ]


def extended_rules(latency_slo: dict[str, float]) -> list[AlertRule]:
    """Rules a mature rule set adds beside the basic ones: each symptom is watched several
    ways (tail latency, throttling, error budget, an outside probe, saturation)."""
    def slo(st: EntityState) -> float:
        return latency_slo[st.id]

    return [
        AlertRule("HighLatencyP99", (SERVICE,), Severity.WARNING, 60,
                  lambda st: st.p99, lambda st: 2.0 * slo(st),
                  "{entity} p99 latency is {value:.2f}s (threshold {threshold:.2f}s)",
                  per_instance=True),
        AlertRule("CPUThrottled", (SERVICE,), Severity.WARNING, 60,
                  lambda st: st.cpu, lambda st: 0.8,
                  "{entity} is throttled: CPU at {value:.0%} of its quota "
                  "(threshold {threshold:.0%})", per_instance=True, fraction=True),
        # 6x the burn rate of a 99.5% availability objective, sustained.
        AlertRule("ErrorBudgetBurn", (SERVICE,), Severity.ERROR, 120,
                  lambda st: st.error_ratio, lambda st: 0.03,
                  "{entity} burns its error budget: {value:.1%} of requests fail "
                  "(threshold {threshold:.0%})"),
        AlertRule("ProbeFailed", (SERVICE,), Severity.ERROR, 30,
                  lambda st: st.error_ratio if st.up else 1.0, lambda st: 0.25,
                  "black-box probe of {entity} fails {value:.0%} of the time "
                  "(threshold {threshold:.0%})"),
        AlertRule("DatastoreConnectionsHigh", (DATABASE,), Severity.WARNING, 60,
                  lambda st: st.pool_in_use / st.pool_size, lambda st: 0.8,
                  "{entity} has {value:.0%} of its connections in use "
                  "(threshold {threshold:.0%})",
                  applies=lambda st: st.pool_size > 0, fraction=True),
        AlertRule("HostLoadHigh", (HOST,), Severity.WARNING, 60,
                  lambda st: st.cpu, lambda st: 0.8,
                  "{entity} load is {value:.0%} of its cores (threshold {threshold:.0%})",
                  fraction=True),
    ]


def alert_rules(latency_slo: dict[str, float],
                config: AlertRulesConfig | None = None) -> list[AlertRule]:
    """The rules ``config`` asks for: the basic set, plus the extended one if enabled."""
    rules = default_rules(latency_slo)
    if config is not None and config.extended:
        rules += extended_rules(latency_slo)
    return rules


def _alert(name: str, entity: str, kind: str, host: str, severity: Severity, summary: str,
           starts_at: datetime, ends_at: datetime | None, extra: dict[str, str],
           instance: str = "") -> Event:
    key = "host" if kind == HOST else "service"
    labels = {"alertname": name, key: entity, "severity": severity.value}
    if host:
        labels["host"] = host
    if instance:
        labels["instance"] = instance
    annotations = {"summary": summary, "runbook_url": RUNBOOKS + name, **extra}
    status = Status.FIRING if ends_at is None else Status.RESOLVED
    return Event(source=SOURCE, name=name, fingerprint=fingerprint_of(SOURCE, name, entity,
                                                                      labels),
                 status=status, severity=severity, entity=entity, summary=summary,
                 labels=labels, annotations=annotations, starts_at=starts_at, ends_at=ends_at)


class AlertEvaluator:
    """Evaluates every rule on every applicable entity (or replica) once per step.

    With ``replicas`` above one, a per-instance rule on a service is evaluated for each
    replica on the service's value as that replica sees it: a replica with a fixed load
    factor ``f`` (up to ``1 +- spread``, with a small jitter per step) reports ``f`` times
    the value, or for a share of a limit ``f`` times less headroom, so a saturated
    resource is saturated on every replica. ``rng`` draws the factors (needed then).
    """

    def __init__(self, rules: list[AlertRule], replicas: int = 1, spread: float = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        if replicas > 1 and rng is None:
            raise ValueError("replicated rules need a random generator")
        self.rules = rules
        self.replicas = replicas
        self.spread = spread
        self._rng = rng
        self._skew: dict[str, np.ndarray] = {}
        self._pending: dict[tuple[str, str, str], datetime] = {}
        self._firing: dict[tuple[str, str, str], tuple[datetime, str]] = {}

    @classmethod
    def from_config(cls, latency_slo: dict[str, float], config: AlertRulesConfig,
                    rng: np.random.Generator | None = None) -> AlertEvaluator:
        return cls(alert_rules(latency_slo, config), config.replicas, config.replica_spread,
                   rng)

    def _factors(self, states: list[EntityState]) -> dict[str, np.ndarray]:
        """Each service replica's load factor for this step."""
        if self.replicas == 1 or self._rng is None:
            return {}
        services = [st.id for st in states if st.kind == SERVICE]
        # One draw per replica and step, whatever the state: the stream stays aligned.
        jitter = self._rng.normal(0.0, self.spread / 4, (len(services), self.replicas))
        out = {}
        for row, entity in enumerate(services):
            skew = self._skew.get(entity)
            if skew is None:
                skew = self._skew[entity] = self._rng.uniform(
                    1.0 - self.spread, 1.0 + self.spread, self.replicas)
            out[entity] = skew * np.exp(jitter[row])
        return out

    def evaluate(self, t: datetime, states: list[EntityState]) -> list[Event]:
        out: list[Event] = []
        factors = self._factors(states)
        for rule in self.rules:
            for st in states:
                if st.kind not in rule.kinds or not rule.applies(st):
                    continue
                # A target that is down exports nothing: only ServiceDown can be true for it.
                value = rule.value(st) if (st.up or rule.name == "ServiceDown") else None
                threshold = rule.threshold(st)
                per = factors.get(st.id) if rule.per_instance else None
                if per is None:
                    self._check(out, t, rule, st, "", value, threshold)
                    continue
                for r, f in enumerate(per.tolist()):
                    seen = value
                    if seen is not None and rule.name != "ServiceDown":
                        seen = 1.0 - (1.0 - min(seen, 1.0)) / f if rule.fraction else seen * f
                    self._check(out, t, rule, st, f"{st.id}-{r}", seen, threshold)
        return out

    def _check(self, out: list[Event], t: datetime, rule: AlertRule, st: EntityState,
               instance: str, value: float | None, threshold: float) -> None:
        key = (rule.name, st.id, instance)
        if value is not None and value > threshold:
            since = self._pending.setdefault(key, t)
            if key not in self._firing and (t - since).total_seconds() >= rule.for_seconds:
                summary = rule.summary.format(entity=instance or st.id, value=value,
                                              threshold=threshold)
                self._firing[key] = (t, summary)
                out.append(_alert(rule.name, st.id, st.kind, st.host, rule.severity,
                                  summary, t, None, {"value": f"{value:.4g}"}, instance))
            return
        self._pending.pop(key, None)
        fired = self._firing.pop(key, None)
        if fired is not None:
            out.append(_alert(rule.name, st.id, st.kind, st.host, rule.severity,
                              fired[1], fired[0], t, {}, instance))


@dataclass(frozen=True, slots=True)
class NoiseTemplate:
    name: str
    kind: str
    severity: Severity
    summary: str
    min_seconds: float
    max_seconds: float


NOISE = (
    NoiseTemplate("NTPClockSkew", HOST, Severity.WARNING,
                  "{entity} clock is {value:.0f}ms off its NTP peers", 60, 600),
    NoiseTemplate("BackupJobSlow", DATABASE, Severity.WARNING,
                  "nightly backup of {entity} is running {value:.0f} minutes late", 300, 1800),
    NoiseTemplate("CertificateExpiringSoon", SERVICE, Severity.INFO,
                  "TLS certificate of {entity} expires in {value:.0f} days", 600, 3600),
    NoiseTemplate("HighGCPause", SERVICE, Severity.WARNING,
                  "{entity} spent {value:.0f}ms in GC pauses in the last minute", 30, 180),
    NoiseTemplate("SlowQueryLogged", DATABASE, Severity.INFO,
                  "{entity} logged a query slower than {value:.0f}ms", 60, 300),
    NoiseTemplate("KernelSoftLockup", HOST, Severity.WARNING,
                  "{entity} kernel reported a soft lockup of {value:.0f}s", 30, 120),
)


class NoiseAlerts:
    """Short harmless alerts that real monitoring always has, unrelated to any fault."""

    def __init__(self, topology: Topology, rng: np.random.Generator, per_hour: float) -> None:
        self._topo = topology
        self._rng = rng
        self._per_hour = per_hour
        self._templates = [tpl for tpl in NOISE if topology.of_kind(tpl.kind)]
        self._open: dict[tuple[str, str], tuple[datetime, datetime, str, NoiseTemplate]] = {}

    def step(self, t: datetime, step_seconds: float) -> list[Event]:
        out: list[Event] = []
        for key, (start, end, summary, tpl) in sorted(self._open.items()):
            if end <= t:
                del self._open[key]
                out.append(self._event(tpl, key[1], summary, start, t))
        if not self._templates:
            return out
        count = int(self._rng.poisson(self._per_hour * step_seconds / 3600.0))
        for _ in range(count):
            tpl = self._templates[int(self._rng.integers(len(self._templates)))]
            entities = self._topo.of_kind(tpl.kind)
            entity = entities[int(self._rng.integers(len(entities)))]
            seconds = float(self._rng.uniform(tpl.min_seconds, tpl.max_seconds))
            value = float(self._rng.uniform(20, 900))
            if (tpl.name, entity) in self._open:
                continue
            summary = tpl.summary.format(entity=entity, value=value)
            self._open[(tpl.name, entity)] = (t, t + timedelta(seconds=seconds), summary, tpl)
            out.append(self._event(tpl, entity, summary, t, None))
        return out

    def _event(self, tpl: NoiseTemplate, entity: str, summary: str, start: datetime,
               end: datetime | None) -> Event:
        spec = self._topo.specs[entity]
        return _alert(tpl.name, entity, spec.kind, spec.host, tpl.severity, summary, start, end,
                      {})
