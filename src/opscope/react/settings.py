"""Settings of the reaction engine (not of single rules: those are in the rule files)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from opscope.react.circuit import CircuitConfig
from opscope.react.policies import RetryPolicy


class ReactSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dry_run: bool = Field(
        default=False, description="Record what every rule would do; deliver nothing."
    )
    runbook_dir: Path | None = Field(
        default=None,
        description="The only directory runbooks may be run from; none means no runbooks.",
    )
    runbook_env: list[str] = Field(
        default_factory=lambda: ["PATH", "LANG", "TZ", "HOME"],
        description="Names of the engine's environment variables runbooks may inherit.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8080", description="opscope's public URL, for links in messages."
    )
    retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(), description="Retries when a rule sets none."
    )
    circuit: CircuitConfig = Field(
        default_factory=lambda: CircuitConfig(), description="Circuit breaker per delivery target."
    )
    in_doubt: Literal["skip", "resend"] = Field(
        default="skip",
        description="A delivery a previous run claimed but never confirmed: 'skip' "
        "records it as in doubt (never twice), 'resend' sends it again with the same "
        "idempotency key (never lost, receivers that honour the key drop the copy).",
    )
    max_trigger_bytes: int = Field(
        default=65_536, ge=1024, description="Largest trigger snapshot kept in an audit record."
    )
