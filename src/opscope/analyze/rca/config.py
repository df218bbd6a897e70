"""Settings of the root-cause ranker: one configuration for every system and resolution."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RcaConfig(BaseModel):
    """How series shifts become entity scores, and how topology and changes weigh in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_baseline: int = Field(
        default=3, ge=1,
        description="Fewest normal points a series needs before its shift is trusted.",
    )
    relative_noise: float = Field(
        default=0.1, ge=0,
        description=(
            "When no series has min_baseline normal points: the relative change taken as "
            "one sigma, so the incident can still be ranked (0 leaves it unscored)."
        ),
    )
    min_reference: int = Field(
        default=10, ge=1,
        description=(
            "Fewest points a separate normal reference needs to be used alone; shorter "
            "references are pooled with the incident's own points before the fault."
        ),
    )
    band: float = Field(
        default=5.0, gt=0,
        description="Robust z-score below which a series counts as within its normal band.",
    )
    saturation: float = Field(
        default=10.0, gt=0,
        description=(
            "z-score distance above the band over which anomaly degree rises towards 1; "
            "bounded degrees keep one huge shift from drowning the topology evidence."
        ),
    )
    support_weight: float = Field(
        default=1.0, ge=0,
        description=(
            "Exponent on (1 + anomalous dependants): how much an entity gains when the "
            "entities that call it, directly or transitively, are anomalous too."
        ),
    )
    onset_tolerance_steps: float = Field(
        default=1.0, ge=0,
        description=(
            "A dependant that moved more than this many sampling steps before a candidate "
            "cannot be its symptom and lends it no support."
        ),
    )
    change_weight: float = Field(
        default=1.0, ge=0,
        description="Multiplier gain for a change (deploy, config) on the entity before onset.",
    )
    change_horizon_s: float = Field(
        default=3600.0, gt=0,
        description="How long before the fault a change still counts as a suspect.",
    )
    log_weight: float = Field(
        default=0.5, ge=0,
        description="Multiplier gain for new or surging error log templates on the entity.",
    )
    anomaly_weight: float = Field(
        default=0.25, ge=0,
        description="Multiplier gain for anomaly records raised on the entity near the onset.",
    )
    co_movement_min: float = Field(
        default=0.8, ge=0, le=1,
        description=(
            "Absolute correlation of the top series at which two entities are reported as "
            "co-moving when no topology is given (shown as evidence, never reorders)."
        ),
    )
    max_evidence: int = Field(default=6, ge=1, description="Evidence items kept per hypothesis.")
