"""Settings of dedup, suppression gating and correlation. Defaults validate and are sane."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from opscope.model.events import Severity


class FingerprintRule(BaseModel):
    """How alerts of one source are identified and how long they live without news."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Source this rule applies to; '*' for every source.")
    labels: list[str] | None = Field(
        default=None,
        description="Labels that identify an alert. None keeps the sender's fingerprint; a "
                    "list recomputes it from name, entity and only these labels (so that "
                    "e.g. a changing 'value' label does not make a new alert).")
    auto_resolve_minutes: float | None = Field(
        default=None, gt=0,
        description="Resolve a firing alert after this much event time without a "
                    "notification. None: wait for the sender's resolve.")


class DedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[FingerprintRule] = Field(
        default_factory=list, description="Per-source rules; the first matching rule wins.")
    reopen_minutes: float = Field(
        default=15.0, ge=0,
        description="A resolved alert that fires again within this time is reopened (same "
                    "occurrence); later it is a new occurrence.")
    flap_window_minutes: float = Field(
        default=30.0, gt=0, description="Window in which state changes are counted.")
    flap_threshold: int = Field(
        default=4, ge=2,
        description="State changes (firing<->resolved) within the window that make an "
                    "alert flapping. A flapping alert is held firing until it has been quiet "
                    "for the window, so its incident does not resolve and reopen with it.")
    retain_resolved_minutes: float = Field(
        default=24 * 60.0, gt=0,
        description="Forget a resolved alert's state after this long (bounds memory).")
    max_alerts: int = Field(
        default=100_000, ge=1,
        description="Most alerts (and anomalies) whose state is tracked at once. A new one "
                    "past this evicts the least recently seen: it is resolved at that "
                    "moment (so its incident can end) and forgotten, and counted.")


class LinkWeights(BaseModel):
    """How much each kind of evidence counts when a signal is linked to an incident."""

    model_config = ConfigDict(extra="forbid")

    topology: float = Field(default=0.5, ge=0, description="Proximity in the call graph.")
    labels: float = Field(default=0.25, ge=0, description="Equal group_by label values.")
    text: float = Field(default=0.1, ge=0, description="Token overlap of names and summaries.")
    learned: float = Field(default=0.25, ge=0,
                           description="Co-occurrence learned from history and feedback.")


class CorrelationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_minutes: float = Field(
        default=5.0, gt=0,
        description="A signal can join an incident whose latest join is this recent; "
                    "link evidence fades linearly over the window.")
    max_hops: int = Field(default=3, ge=0, description="Topology proximity limit.")
    downstream_grace_minutes: float = Field(
        default=3.0, ge=0,
        description="For this long after an incident starts, a signal on a dependency of "
                    "its entities may join too (the cause often alerts after its symptoms); "
                    "later such a signal is taken as a new problem. Signals on dependents "
                    "(where symptoms travel) may join at any time.")
    sibling_links: bool = Field(
        default=False,
        description="Early in an incident, also link a signal on an entity that calls the same "
                    "service or store directly as one of the incident's entities (a possible "
                    "common cause that has not alerted). Off by default: shared caches and "
                    "databases make most services siblings.")
    other_symptom_factor: float = Field(
        default=0.6, gt=0, le=1,
        description="Topology evidence is scaled by this when the linked entity shows another "
                    "alert than the newcomer (or when the newcomer may be the cause): the "
                    "same symptom travelling along a dependency is stronger evidence.")
    cause_factor: float = Field(
        default=0.8, gt=0, le=1,
        description="Topology evidence is scaled by this for a signal below the incident's "
                    "deepest entities (a possible cause), within downstream_grace_minutes.")
    group_by: list[str] = Field(
        default_factory=list,
        description="Labels whose equal values link signals (like Alertmanager's group_by).")
    partition_by: list[str] = Field(
        default_factory=list,
        description="Labels whose different values never share an incident (e.g. cluster).")
    regroup_seconds: float = Field(
        default=60.0, ge=0,
        description="The members of one kind on one entity that joined an incident less "
                    "than this long before may move to another incident that a later "
                    "signal makes their better explanation: alerts that cross their "
                    "thresholds in the same rule evaluation (Prometheus evaluates once a "
                    "minute by default) arrive in no fixed order, so a cause may alert just "
                    "after its symptoms joined another incident. A member placed earlier "
                    "stays: a signal that comes later is no proof that it caused what was "
                    "already there. Members an operator merged or split never move. "
                    "0: never.")
    max_regroup_moves: int = Field(
        default=64, ge=0,
        description="Most member groups moved after one signal (bounds the work per signal).")
    weights: LinkWeights = Field(default_factory=LinkWeights)
    join_threshold: float = Field(
        default=0.2, ge=0, le=1, description="Least link score for a signal to join.")
    min_signals: int = Field(
        default=2, ge=1, description="An incident opens once it has this many signals ...")
    min_severity: Severity = Field(
        default=Severity.ERROR, description="... or one signal of at least this severity.")
    resolve_quiet_minutes: float = Field(
        default=5.0, ge=0,
        description="An incident resolves when all members have been resolved this long.")
    recurrence_days: float = Field(
        default=7.0, ge=0,
        description="A new incident like a resolved one within this time links to it.")
    impact_label: str = Field(
        default="user_facing",
        description="Entity label marking user-facing services (value 'true').")
    impact_kinds: list[str] = Field(
        default_factory=list, description="Entity kinds that are user facing as a whole.")
    learned_min_count: float = Field(
        default=2.0, ge=0, description="Co-occurrences needed before a learned link counts.")
    solitude_min_count: float = Field(
        default=3.0, ge=1,
        description="Occurrences of a signal type before its history of firing alone (a "
                    "pending group that never opened, an incident of that type only) makes "
                    "its topology links count less: background noise is known by its past.")
    learned_max_types: int = Field(
        default=50_000, ge=1,
        description="Most signal types (name@entity) whose co-occurrence is learned; past "
                    "it the rarest are forgotten and counted.")
    feedback_weight: float = Field(
        default=5.0, ge=0, description="One operator merge/split counts as this many "
                                        "observed (co-)occurrences.")
    max_profile_types: int = Field(
        default=256, ge=1,
        description="Distinct signal types an incident remembers for learned and text links "
                    "(bounds work per signal for very large incidents).")
    max_active_incidents: int = Field(
        default=10_000, ge=1,
        description="Most incidents (open or pending) kept active at once. A new one past "
                    "this ends the one whose latest join is oldest: an open one is resolved, "
                    "a pending one forgotten; each is counted.")
    max_finished_incidents: int = Field(
        default=20_000, ge=1,
        description="Most resolved or merged incidents remembered (for recurrence links "
                    "and operator actions) before the recurrence horizon; past it the "
                    "oldest are forgotten (the store keeps them) and counted.")
