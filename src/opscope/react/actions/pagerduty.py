"""PagerDuty: Events API v2 — trigger, acknowledge and resolve with a dedup key.

Posts to ``{events_url}`` (default ``https://events.pagerduty.com/v2/enqueue``) the
documented body: ``routing_key`` (32-character integration key), ``event_action``
(``trigger``, ``acknowledge`` or ``resolve``), ``dedup_key`` (at most 255 characters;
by default ``opscope-<subject>`` so every change of one incident lands on one PagerDuty
alert) and, for ``trigger``, ``payload`` with the required ``summary`` (at most 1024
characters), ``source`` and ``severity`` (critical, error, warning or info) plus
``timestamp``, ``component``, ``group``, ``class`` and ``custom_details``, and ``links``
back to opscope. The action is chosen per trigger: ``incident.resolved`` or a resolved
event resolves, an incident whose status is ``acknowledged`` acknowledges, otherwise
``event_action`` (default ``trigger``). PagerDuty answers 202
with the dedup key; 429 and 5xx are retried, 400 is permanent.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

from pydantic import Field, HttpUrl

from opscope.model.events import parse_severity
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
from opscope.react.triggers import TriggerKind

SUMMARY_MAX = 1024
DEDUP_MAX = 255


class PagerDutyConfig(ActionConfig):
    events_url: HttpUrl = Field(
        default=HttpUrl("https://events.pagerduty.com/v2/enqueue"), description="Events API v2 URL."
    )
    routing_key: str = Field(
        default="", repr=False, description="Integration key; prefer routing_key_env."
    )
    routing_key_env: str = Field(
        default="PAGERDUTY_ROUTING_KEY", description="Variable holding the key."
    )
    event_action: Literal["trigger", "acknowledge", "resolve"] = Field(
        default="trigger", description="Action for triggers that are not a resolution."
    )
    dedup_key: str = Field(default="opscope-{{ trigger.subject }}", description="Template.")
    summary: str = Field(
        default="{{ incident.title or event.summary or event.name or anomaly.summary or kind }}",
        description="Template; cut to 1024 characters.",
    )
    source: str = Field(
        default="{{ incident.service or event.entity or anomaly.entity or 'opscope' }}",
        description="Template: the affected system.",
    )
    severity: str = Field(
        default="{{ incident.severity or event.severity or 'warning' }}",
        description="Template; folded onto critical, error, warning, info.",
    )
    component: str = Field(default="", description="Template.")
    group: str = Field(default="", description="Template.")
    event_class: str = Field(default="{{ kind }}", description="Template for payload.class.")
    custom_details: dict[str, Any] = Field(
        default_factory=lambda: {"rule": "{{ rule }}", "root_cause": "{{ incident.root_cause }}"},
        description="Structure of templates sent as payload.custom_details.",
    )
    timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds to wait for PagerDuty.")


class PagerDutyAction(Action[PagerDutyConfig]):
    kind: ClassVar[str] = "pagerduty"
    config_model: ClassVar[type[ActionConfig]] = PagerDutyConfig

    def target(self) -> str:
        return host_of(str(self.config.events_url))

    def _event_action(self, ctx: ActionContext) -> str:
        body = ctx.trigger.body
        if ctx.trigger.kind is TriggerKind.INCIDENT_RESOLVED or (
            ctx.trigger.kind is TriggerKind.EVENT and body.get("status") == "resolved"
        ):
            return "resolve"
        if str(body.get("status", "")).lower() in ("acknowledged", "ack"):
            return "acknowledge"
        return self.config.event_action

    def prepare(self, ctx: ActionContext) -> dict[str, Any]:
        f = ctx.fields
        action = self._event_action(ctx)
        dedup = RENDERER.render_text(self.config.dedup_key, f).strip()[:DEDUP_MAX]
        body: dict[str, Any] = {
            "routing_key": "<routing key>",
            "event_action": action,
            "dedup_key": dedup or ctx.trigger.subject[:DEDUP_MAX],
        }
        if action == "trigger":
            summary = RENDERER.render_text(self.config.summary, f).strip() or ctx.trigger.kind
            severity = parse_severity(
                RENDERER.render_text(self.config.severity, f).strip(),
                default=parse_severity("warning"),
            )
            payload: dict[str, Any] = {
                "summary": summary[:SUMMARY_MAX],
                "source": RENDERER.render_text(self.config.source, f).strip() or "opscope",
                "severity": severity.value,
                "timestamp": ctx.trigger.at.isoformat(),
                "class": RENDERER.render_text(self.config.event_class, f).strip(),
                "custom_details": RENDERER.render_value(self.config.custom_details, f),
            }
            for name in ("component", "group"):
                value = RENDERER.render_text(getattr(self.config, name), f).strip()
                if value:
                    payload[name] = value
            body["payload"] = payload
            body["client"] = "opscope"
            link = str(ctx.fields.get("links", {}).get("subject", ""))
            if link:
                body["client_url"] = link
                body["links"] = [{"href": link, "text": "Open in opscope"}]
        return {"url": str(self.config.events_url), "body": body}

    def deliver(self, inputs: dict[str, Any], ctx: ActionContext) -> Outcome:
        key = self.config.routing_key or os.environ.get(self.config.routing_key_env, "")
        if not key:
            raise DeliveryFailed(
                f"no PagerDuty routing key: set {self.config.routing_key_env}", retryable=False
            )
        body = dict(inputs["body"], routing_key=key)
        response = post_json(ctx, inputs["url"], body, {}, self.config.timeout, "pagerduty")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        return Outcome(
            result={
                "status_code": response.status_code,
                "dedup_key": answer.get("dedup_key", body["dedup_key"]),
                "event_action": body["event_action"],
            },
            output=str(answer.get("message", ""))[:256],
        )
