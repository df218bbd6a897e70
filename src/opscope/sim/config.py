"""Settings of the simulated shop. Defaults give a realistic, busy-but-healthy shop."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SimulationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    traffic_scale: float = Field(
        default=1.0, gt=0, description="Multiplies every entry point's request rate.")
    attenuation: float = Field(
        default=0.7, gt=0, le=1,
        description="Share of a dependency's extra latency and error ratio that reaches each "
                    "caller, per hop.")
    hop_delay_seconds: float = Field(
        default=15.0, ge=0,
        description="Mean delay before a dependency's trouble shows in its callers (at least "
                    "one step).")
    hop_jitter_seconds: float = Field(
        default=5.0, ge=0, description="Each edge's delay varies by up to this much (seeded).")
    log_volume: float = Field(
        default=1.0, ge=0, description="Multiplies the number of log lines per step.")
    max_logs_per_entity_step: int = Field(
        default=200, ge=1, description="Cap on log lines one entity writes per step.")
    deploys_per_day: float = Field(
        default=8.0, ge=0, description="Routine deploys per day, mostly in working hours.")
    noise_alerts_per_hour: float = Field(
        default=1.5, ge=0,
        description="Rate of short, harmless alerts unrelated to any injected fault.")
    ticket_probability: float = Field(
        default=0.5, ge=0, le=1,
        description="Chance that a fault hurting users also gets a customer ticket.")


class AlertRulesConfig(BaseModel):
    """How finely the simulated monitoring alerts. The defaults are the shop's basic rule
    set, one alert per rule and entity (what the demo and the single-fault replays use)."""

    model_config = ConfigDict(extra="forbid")

    replicas: int = Field(
        default=1, ge=1, le=64,
        description="Replicas each service runs. Above one, the per-instance rules (down, "
                    "latency, errors, CPU, memory, pool) fire once per replica with an "
                    "'instance' label, as a Prometheus rule aggregated 'by (instance)' does.")
    replica_spread: float = Field(
        default=0.08, ge=0, le=0.5,
        description="Load imbalance between replicas: each replica's values deviate from "
                    "the service's by a fixed factor of up to this much, plus a small "
                    "jitter per evaluation, so replicas cross a threshold at different times.")
    extended: bool = Field(
        default=False,
        description="Add the rules a mature rule set has beside the basic ones, several per "
                    "symptom: p99 latency, CPU throttling (per instance), an error-budget "
                    "burn rate, a black-box availability probe (per service), datastore "
                    "connection saturation and host load.")
