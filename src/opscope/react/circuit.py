"""Circuit breaker per delivery target (host, channel, SMTP server).

After ``failures`` consecutive failed deliveries to one target the circuit opens: for
``open_for`` every delivery to it fails fast (recorded as suppressed, reason "circuit
open") instead of piling retries onto a target that is down. Then one trial delivery is
let through (half-open): success closes the circuit, failure opens it again. Time is the
engine's injected clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from opscope.react.duration import Duration


class CircuitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: int = Field(
        default=5, ge=1, description="Consecutive failures that open the circuit."
    )
    open_for: Duration = Field(default=timedelta(minutes=1), description="How long it stays open.")


@dataclass
class _State:
    failures: int = 0
    opened_at: datetime | None = None
    trial: bool = False


class CircuitBreaker:
    def __init__(self, config: CircuitConfig) -> None:
        self.config = config
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def allow(self, target: str, now: datetime) -> bool:
        with self._lock:
            state = self._states.get(target)
            if state is None or state.opened_at is None:
                return True
            if now - state.opened_at < self.config.open_for or state.trial:
                return False
            state.trial = True  # half-open: exactly one delivery tests the target
            return True

    def success(self, target: str) -> None:
        with self._lock:
            self._states.pop(target, None)

    def failure(self, target: str, now: datetime) -> None:
        with self._lock:
            state = self._states.setdefault(target, _State())
            state.failures += 1
            if state.trial or state.failures >= self.config.failures:
                state.opened_at = now
                state.trial = False

    def is_open(self, target: str, now: datetime) -> bool:
        state = self._states.get(target)
        return bool(state and state.opened_at and now - state.opened_at < self.config.open_for)
