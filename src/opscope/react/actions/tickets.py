"""Tickets: create a Jira issue or a ServiceNow incident; the ticket id comes back.

* ``jira`` — ``POST {base_url}/rest/api/2/issue`` with
  ``{"fields": {"project": {"key": ...}, "summary", "description", "issuetype": {"name"},
  "labels", "priority": {"name"}}}``; Jira answers 201 ``{"id", "key", "self"}``.
  Authentication is basic (``username`` + API token from ``token_env``) or, without a
  username, ``Authorization: Bearer`` (personal access token).
* ``servicenow`` — ``POST {base_url}/api/now/table/incident`` with ``short_description``,
  ``description``, ``urgency``, ``impact``, ``category`` and ``correlation_id`` (the
  subject, so ServiceNow itself can spot a duplicate), basic authentication; it answers
  201 ``{"result": {"sys_id", "number", ...}}``.

The result holds ``ticket_id``, ``ticket_key`` and ``url`` so the caller can store them on
the incident. The ticket of a subject is remembered in the action state: a later trigger
for the same subject returns the existing ticket instead of opening a second one.
"""

from __future__ import annotations

import base64
import os
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
from opscope.react.templates import RENDERER, ROOT_CAUSE_TEXT

_SEVERITY_TO_LEVEL = {"critical": "1", "error": "2", "warning": "2", "info": "3"}


class TicketConfig(ActionConfig):
    base_url: HttpUrl = Field(description="Base URL of the ticket system.")
    username: str = Field(default="", description="User for basic authentication.")
    token_env: str = Field(
        default="OPSCOPE_TICKET_TOKEN", description="Variable with token/password."
    )
    summary: str = Field(
        default="{{ incident.title or event.name or kind }}", description="Template."
    )
    description: str = Field(
        default="{{ incident.summary or event.summary }}\n\nRoot cause: " + ROOT_CAUSE_TEXT + "\n"
        "{{ links.subject }}",
        description="Template.",
    )
    timeout: float = Field(default=15.0, gt=0, le=120, description="Seconds to wait for an answer.")


class JiraConfig(TicketConfig):
    project: str = Field(min_length=1, description="Project key, e.g. OPS.")
    issue_type: str = Field(default="Incident", description="Issue type name.")
    labels: list[str] = Field(default_factory=lambda: ["opscope"], description="Issue labels.")
    priority: str = Field(default="", description="Priority name template; empty to leave unset.")


class ServiceNowConfig(TicketConfig):
    category: str = Field(default="software", description="Incident category.")
    assignment_group: str = Field(
        default="", description="Assignment group template; empty to omit."
    )


class _TicketAction(Action[Any]):
    system: ClassVar[str]

    def target(self) -> str:
        return host_of(str(self.config.base_url))

    def _state_key(self, ctx: ActionContext) -> str:
        return f"ticket:{self.system}:{ctx.rule}:{ctx.action}:{ctx.trigger.subject}"

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def _auth(self) -> str | None:
        """The basic-auth header value, or None when token auth is used."""
        if not self.config.username:
            return None
        secret = os.environ.get(self.config.token_env, "")
        raw = f"{self.config.username}:{secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _post(self, ctx: ActionContext, url: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = self._headers()
        auth = self._auth()
        if auth is None:
            token = os.environ.get(self.config.token_env, "")
            if token:
                headers["Authorization"] = f"Bearer {token}"
        else:
            headers["Authorization"] = auth
        response = post_json(ctx, url, body, headers, self.config.timeout, self.system)
        try:
            answer: dict[str, Any] = response.json()
        except ValueError as exc:
            raise DeliveryFailed(
                f"{self.system} answered with invalid JSON", retryable=False
            ) from exc
        return answer

    def deliver(self, inputs: dict[str, Any], ctx: ActionContext) -> Outcome:
        known = ctx.services.state.load(self._state_key(ctx))
        if known:
            return Outcome(result=dict(known, existing=True))
        answer = self._post(ctx, inputs["url"], inputs["body"])
        result = self._result(answer)
        ctx.services.state.save(self._state_key(ctx), result)
        return Outcome(result=result)

    def _result(self, answer: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class JiraAction(_TicketAction):
    kind: ClassVar[str] = "jira"
    system: ClassVar[str] = "jira"
    config_model: ClassVar[type[ActionConfig]] = JiraConfig

    def prepare(self, ctx: ActionContext) -> dict[str, Any]:
        c: JiraConfig = self.config
        f = ctx.fields
        fields: dict[str, Any] = {
            "project": {"key": c.project},
            "summary": " ".join(RENDERER.render_text(c.summary, f).split())[:255] or "opscope",
            "description": RENDERER.render_text(c.description, f),
            "issuetype": {"name": c.issue_type},
            "labels": [label.replace(" ", "-") for label in c.labels],
        }
        priority = RENDERER.render_text(c.priority, f).strip()
        if priority:
            fields["priority"] = {"name": priority}
        return {
            "url": f"{str(c.base_url).rstrip('/')}/rest/api/2/issue",
            "body": {"fields": fields},
        }

    def _result(self, answer: dict[str, Any]) -> dict[str, Any]:
        key = str(answer.get("key", ""))
        if not key:
            raise DeliveryFailed("jira answer has no issue key", retryable=False)
        return {
            "system": "jira",
            "ticket_id": str(answer.get("id", "")),
            "ticket_key": key,
            "url": f"{str(self.config.base_url).rstrip('/')}/browse/{key}",
        }


class ServiceNowAction(_TicketAction):
    kind: ClassVar[str] = "servicenow"
    system: ClassVar[str] = "servicenow"
    config_model: ClassVar[type[ActionConfig]] = ServiceNowConfig

    def prepare(self, ctx: ActionContext) -> dict[str, Any]:
        c: ServiceNowConfig = self.config
        f = ctx.fields
        severity = str(ctx.trigger.body.get("severity", "warning"))
        level = _SEVERITY_TO_LEVEL.get(severity, "2")
        body: dict[str, Any] = {
            "short_description": " ".join(RENDERER.render_text(c.summary, f).split())[:160],
            "description": RENDERER.render_text(c.description, f),
            "urgency": level,
            "impact": level,
            "category": c.category,
            "correlation_id": ctx.trigger.subject[:100],
            "correlation_display": "opscope",
        }
        group = RENDERER.render_text(c.assignment_group, f).strip()
        if group:
            body["assignment_group"] = group
        return {"url": f"{str(c.base_url).rstrip('/')}/api/now/table/incident", "body": body}

    def _result(self, answer: dict[str, Any]) -> dict[str, Any]:
        record = answer.get("result")
        if not isinstance(record, dict) or not record.get("sys_id"):
            raise DeliveryFailed("servicenow answer has no result.sys_id", retryable=False)
        sys_id = str(record["sys_id"])
        return {
            "system": "servicenow",
            "ticket_id": sys_id,
            "ticket_key": str(record.get("number", "")),
            "url": f"{str(self.config.base_url).rstrip('/')}/nav_to.do?uri=incident.do"
            f"?sys_id={sys_id}",
        }
