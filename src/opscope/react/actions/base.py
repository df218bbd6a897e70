"""What every action kind shares: a typed config, ``prepare`` then ``deliver``.

``prepare`` renders the config against the trigger into the exact request the action
would send (a JSON body, an argument list, an email) without any I/O; dry runs and
approval requests show it, and the audit records it. ``deliver`` sends what ``prepare``
built. Retries, rate limits, approval, idempotency and circuit breaking are *not* in
actions: they are shared stages of the engine (``opscope.react.policies``). An action
only says, by raising :class:`DeliveryFailed`, whether its failure is worth retrying.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from opscope.errors import OpscopeError
from opscope.react.ports import ActionState, IncidentAnnotator
from opscope.react.triggers import Trigger


class ActionConfig(BaseModel):
    """Base of every action's config: unknown keys are errors, shown at load time."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeliveryFailed(OpscopeError):
    """A delivery failed. ``retryable`` says whether the same request may succeed later."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        result: dict[str, Any] | None = None,
        output: str = "",
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.result = result or {}
        self.output = output


@dataclass
class ActionServices:
    """What the engine lends to actions: shared clients and ports, set up once."""

    http: httpx.Client
    state: ActionState
    annotator: IncidentAnnotator | None = None
    runbook_dir: Path | None = None
    runbook_env: Mapping[str, str] = field(default_factory=dict)
    base_url: str = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class ActionContext:
    """One action about to run for one trigger."""

    rule: str
    action: str
    trigger: Trigger
    fields: Mapping[str, Any]
    """What templates see: the trigger's fields plus ``rule``, ``links`` and ``trigger``."""
    idempotency_key: str
    now: datetime
    services: ActionServices


@dataclass
class Outcome:
    """What a successful delivery returns: structured result and bounded text output."""

    result: dict[str, Any] = field(default_factory=dict)
    output: str = ""


C = TypeVar("C", bound=ActionConfig)


class Action(ABC, Generic[C]):
    """An action kind: subclasses set ``kind`` and ``config_model`` and implement two steps."""

    kind: ClassVar[str]
    config_model: ClassVar[type[ActionConfig]]

    def __init__(self, config: C) -> None:
        self.config = config

    def target(self) -> str:
        """Where deliveries go (host, channel): the circuit breaker's key."""
        return self.kind

    def check(self, services: ActionServices) -> list[str]:
        """Problems that make this action unusable with these services (shown at load)."""
        return []

    @abstractmethod
    def prepare(self, ctx: ActionContext) -> dict[str, Any]:
        """Render the request from the trigger; no I/O. The result must be JSON-able."""

    @abstractmethod
    def deliver(self, inputs: dict[str, Any], ctx: ActionContext) -> Outcome:
        """Send the prepared request; raise DeliveryFailed on failure."""


def http_failure(response: httpx.Response, what: str) -> DeliveryFailed:
    """Translate an HTTP error answer: 408, 425, 429 and 5xx may succeed later, others not."""
    status = response.status_code
    retry_after: float | None = None
    header = response.headers.get("retry-after", "")
    if header.isdigit():
        retry_after = float(header)
    retryable = status in (408, 425, 429) or status >= 500
    return DeliveryFailed(
        f"{what} answered HTTP {status}",
        retryable=retryable,
        retry_after=retry_after,
        result={"status_code": status},
        output=response.text[:2048],
    )


def post_json(
    ctx: ActionContext,
    url: str,
    body: Any,
    headers: Mapping[str, str],
    timeout: float,
    what: str,
) -> httpx.Response:
    """POST a JSON body; connection errors and timeouts are retryable failures."""
    try:
        response = ctx.services.http.post(url, json=body, headers=dict(headers), timeout=timeout)
    except httpx.TimeoutException as exc:
        raise DeliveryFailed(f"{what} timed out: {exc}", retryable=True) from exc
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{what} unreachable: {exc}", retryable=True) from exc
    if response.status_code >= 400:
        raise http_failure(response, what)
    return response


def host_of(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}"
