"""Slack: a Block Kit message per incident, updated in place or threaded as it changes.

Two transports, by ``mode``:

* ``api`` — the Web API over plain HTTP: ``chat.postMessage`` for the first message of a
  subject, then, per ``updates``, ``chat.update`` of that message (``update``, the
  default), a reply in its thread (``thread``), or a fresh message (``new``). The
  channel and ``ts`` Slack returns are kept in the engine's action state under the rule,
  action and subject, so a restarted engine still edits the same message. The token is
  sent as ``Authorization: Bearer``; it comes from ``token`` or the ``token_env``
  variable. Slack answers HTTP 200 with ``{"ok": false, "error": ...}`` on failure;
  ``ratelimited`` and 429/5xx are retried, other errors are not.
* ``webhook`` — an incoming webhook URL: every change posts a new message (incoming
  webhooks cannot edit or thread).

The message carries a header (title), a fields section (severity, status, service,
time), the summary, the root cause, up to ten evidence lines and a button linking back
to opscope, with a plain ``text`` fallback for notifications. Texts from the incident are
escaped for mrkdwn (``&``, ``<``, ``>``) and cut to Block Kit's limits (header 150,
section 3000, field 2000 characters; at most 10 fields and 50 blocks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, HttpUrl, model_validator

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

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
BUTTON_TEXT_MAX = 75
URL_MAX = 3000
FALLBACK_MAX = 4000
MAX_EVIDENCE = 10
_RETRYABLE_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


class SlackConfig(ActionConfig):
    mode: Literal["api", "webhook"] = Field(
        default="api", description="Web API or incoming webhook."
    )
    webhook_url: HttpUrl | None = Field(
        default=None, description="Incoming webhook URL (mode webhook)."
    )
    api_url: HttpUrl = Field(
        default=HttpUrl("https://slack.com/api"), description="Web API base URL (mode api)."
    )
    token: str = Field(
        default="", repr=False, description="Bot token (xoxb-...); prefer token_env."
    )
    token_env: str = Field(default="SLACK_BOT_TOKEN", description="Variable holding the bot token.")
    channel: str = Field(default="", description="Channel id or name (mode api).")
    updates: Literal["update", "thread", "new"] = Field(
        default="update", description="How later changes of the same subject appear (mode api)."
    )
    title: str = Field(
        default="[{{ (incident.severity or event.severity or 'info') | upper }}] "
        "{{ incident.title or event.name or anomaly.summary or kind }}",
        description="Header template.",
    )
    summary: str = Field(
        default="{{ incident.summary or event.summary or anomaly.summary }}",
        description="Summary template.",
    )
    root_cause: str = Field(
        default="{{ incident.root_cause }}", description="Root cause: a text, or a hypothesis map."
    )
    evidence: str = Field(
        default="{{ incident.evidence }}",
        description="Evidence: a list of texts or maps with a summary.",
    )
    link: str = Field(default="{{ links.subject }}", description="URL of the subject in opscope.")
    timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds to wait for Slack.")

    @model_validator(mode="after")
    def _transport(self) -> SlackConfig:
        if self.mode == "webhook" and self.webhook_url is None:
            raise ValueError("mode webhook needs webhook_url")
        if self.mode == "api" and not self.channel:
            raise ValueError("mode api needs channel")
        return self


def escape_mrkdwn(text: str) -> str:
    # Slack's three control characters; everything else is shown as written.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _moment(value: Any) -> str:
    """An ISO timestamp as people read it in a message: to the second, in UTC."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        main = value.get("summary") or value.get("entity") or value.get("title") or ""
        reason = value.get("reason") or value.get("signal") or ""
        return f"{main} — {reason}" if main and reason else str(main or reason)
    return "" if value is None else str(value)


def build_blocks(
    title: str,
    summary: str,
    facts: Mapping[str, str],
    root_cause: str,
    evidence: list[str],
    link: str,
    footer: str,
) -> list[dict[str, Any]]:
    """Block Kit blocks for one subject, within Slack's documented limits."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title or "-", HEADER_MAX)}}
    ]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{k}*\n{escape_mrkdwn(v)}", FIELD_MAX)}
        for k, v in list(facts.items())[:10]
        if v
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    texts = [
        escape_mrkdwn(summary) if summary else "",
        f"*Root cause:* {escape_mrkdwn(root_cause)}" if root_cause else "",
        "*Evidence*\n" + "\n".join(f"• {escape_mrkdwn(e)}" for e in evidence[:MAX_EVIDENCE])
        if evidence
        else "",
    ]
    blocks.extend(
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(t, SECTION_MAX)}}
        for t in texts
        if t
    )
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _cut(escape_mrkdwn(footer), FIELD_MAX)}],
        }
    )
    if link.startswith(("http://", "https://")) and len(link) <= URL_MAX:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "open_in_opscope",
                        "text": {"type": "plain_text", "text": "Open in opscope"},
                        "url": link,
                    }
                ],
            }
        )
    return blocks


class SlackAction(Action[SlackConfig]):
    kind: ClassVar[str] = "slack"
    config_model: ClassVar[type[ActionConfig]] = SlackConfig

    def target(self) -> str:
        if self.config.mode == "webhook":
            return host_of(str(self.config.webhook_url))
        return f"{host_of(str(self.config.api_url))}#{self.config.channel}"

    def _state_key(self, ctx: ActionContext) -> str:
        return f"slack:{ctx.rule}:{ctx.action}:{ctx.trigger.subject}"

    def prepare(self, ctx: ActionContext) -> dict[str, Any]:
        f = ctx.fields
        body = ctx.trigger.body
        title = RENDERER.render_text(self.config.title, f).strip()
        summary = RENDERER.render_text(self.config.summary, f).strip()
        root = _describe(RENDERER.render_value(self.config.root_cause, f)).strip()
        raw_evidence = RENDERER.render_value(self.config.evidence, f)
        items = (
            raw_evidence
            if isinstance(raw_evidence, list)
            else ([raw_evidence] if raw_evidence else [])
        )
        evidence = [d for d in (_describe(i).strip() for i in items) if d]
        facts = {
            "Severity": str(body.get("severity", "")),
            "Status": str(body.get("status", "")),
            "Service": str(body.get("service") or body.get("entity") or ""),
            "Since": _moment(body.get("opened_at") or body.get("starts_at") or body.get("ts")),
        }
        link = RENDERER.render_text(self.config.link, f).strip()
        when = f"{ctx.trigger.at:%Y-%m-%d %H:%M:%S}Z"
        footer = f"opscope · rule {ctx.rule} · {ctx.trigger.kind.value} · {when}"
        blocks = build_blocks(title, summary, facts, root, evidence, link, footer)
        message: dict[str, Any] = {
            "text": _cut(f"{title}: {summary}" if summary else title, FALLBACK_MAX),
            "blocks": blocks,
        }
        if self.config.mode == "webhook":
            return {"method": "webhook", "url": str(self.config.webhook_url), "message": message}
        message["channel"] = self.config.channel
        previous = ctx.services.state.load(self._state_key(ctx))
        method = "chat.postMessage"
        if previous and self.config.updates == "update":
            method = "chat.update"
            message["channel"] = previous["channel"]
            message["ts"] = previous["ts"]
        elif previous and self.config.updates == "thread":
            message["thread_ts"] = previous["ts"]
        else:
            message["unfurl_links"] = False
        return {
            "method": method,
            "url": f"{str(self.config.api_url).rstrip('/')}/{method}",
            "message": message,
        }

    def _token(self) -> str:
        token = self.config.token or os.environ.get(self.config.token_env, "")
        if not token:
            raise DeliveryFailed(f"no Slack token: set {self.config.token_env}", retryable=False)
        return token

    def deliver(self, inputs: dict[str, Any], ctx: ActionContext) -> Outcome:
        if inputs["method"] == "webhook":
            response = post_json(
                ctx, inputs["url"], inputs["message"], {}, self.config.timeout, "slack webhook"
            )
            return Outcome(result={"status_code": response.status_code}, output=response.text[:256])
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Content-Type": "application/json; charset=utf-8",
        }
        response = post_json(
            ctx,
            inputs["url"],
            inputs["message"],
            headers,
            self.config.timeout,
            f"slack {inputs['method']}",
        )
        try:
            answer = response.json()
        except ValueError as exc:
            raise DeliveryFailed("slack answered with invalid JSON", retryable=True) from exc
        if not answer.get("ok"):
            error = str(answer.get("error", "unknown_error"))
            raise DeliveryFailed(
                f"slack {inputs['method']} failed: {error}",
                retryable=error in _RETRYABLE_ERRORS,
                result={"error": error},
            )
        channel = str(answer.get("channel") or inputs["message"]["channel"])
        ts = str(answer.get("ts") or inputs["message"].get("ts", ""))
        key = self._state_key(ctx)
        if inputs["method"] == "chat.postMessage" and "thread_ts" not in inputs["message"]:
            ctx.services.state.save(key, {"channel": channel, "ts": ts})
        return Outcome(result={"channel": channel, "ts": ts, "method": inputs["method"]})
