"""Webhook: POST a templated JSON body to a URL.

The ``body`` is a structure (map, list, strings) whose strings are Jinja templates
rendered in the sandbox; the structure is JSON-encoded once, after rendering, so labels
full of quotes, braces or template syntax cannot break the payload or be evaluated.
Headers are templated the same way (values only; CR/LF are refused so no header can be
injected). An ``Idempotency-Key`` header carrying the delivery key is added, so a
receiver that honours it drops the one resend an interrupted delivery may cause.
Answers 408, 425, 429 and 5xx, timeouts and refused connections are retried by the
engine's retry stage with exponential backoff; other 4xx answers are permanent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, HttpUrl

from opscope.react.actions.base import (
    Action,
    ActionConfig,
    ActionContext,
    DeliveryFailed,
    Outcome,
    host_of,
    post_json,
)
from opscope.react.templates import RENDERER

DEFAULT_BODY: dict[str, Any] = {
    "rule": "{{ rule }}",
    "kind": "{{ kind }}",
    "subject": "{{ trigger.subject }}",
    "fields": "{{ trigger.fields }}",
    "links": "{{ links }}",
}


class WebhookConfig(ActionConfig):
    url: HttpUrl = Field(description="Where to POST.")
    body: dict[str, Any] | list[Any] | str = Field(
        default_factory=lambda: dict(DEFAULT_BODY),
        description="JSON body; strings are templates over the trigger's fields. A string "
        "that is one '{{ expression }}' keeps the expression's value (map, list, number).",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra headers; values are templates."
    )
    timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds to wait for an answer.")
    idempotency_header: str = Field(
        default="Idempotency-Key", description="Header carrying the delivery key; empty to omit."
    )


class WebhookAction(Action[WebhookConfig]):
    kind: ClassVar[str] = "webhook"
    config_model: ClassVar[type[ActionConfig]] = WebhookConfig

    def target(self) -> str:
        return host_of(str(self.config.url))

    def prepare(self, ctx: ActionContext) -> dict[str, Any]:
        headers = {k: RENDERER.render_text(v, ctx.fields) for k, v in self.config.headers.items()}
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise DeliveryFailed(f"header {name} would contain a line break", retryable=False)
        if self.config.idempotency_header:
            headers[self.config.idempotency_header] = ctx.idempotency_key
        return {
            "url": str(self.config.url),
            "headers": headers,
            "body": RENDERER.render_value(self.config.body, ctx.fields),
        }

    def deliver(self, inputs: dict[str, Any], ctx: ActionContext) -> Outcome:
        response = post_json(
            ctx, inputs["url"], inputs["body"], inputs["headers"], self.config.timeout, "webhook"
        )
        return Outcome(result={"status_code": response.status_code}, output=response.text[:2048])
