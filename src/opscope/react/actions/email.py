"""Email: a plain-text message over SMTP (stdlib ``smtplib`` and ``email``).

Connects to ``host:port``, optionally upgrades with STARTTLS (``starttls``) and logs in
when ``username`` is set (the password comes from ``password_env``). Subject and body are
templates; line breaks are removed from the subject so no header can be injected. The
message carries a ``Message-ID`` derived from the delivery key, so mail systems can spot
a resend. Connection errors, timeouts and 4xx SMTP replies are retried; 5xx replies
(unknown recipient, refused sender) are permanent.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, ClassVar

from pydantic import Field

from opscope.react.actions.base import (
    Action,
    ActionConfig,
    ActionContext,
    DeliveryFailed,
    Outcome,
)
from opscope.react.templates import RENDERER, ROOT_CAUSE_TEXT

SUBJECT_MAX = 250


class EmailConfig(ActionConfig):
    host: str = Field(default="127.0.0.1", description="SMTP server.")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP port (587 for submission).")
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    username: str = Field(default="", description="Login name; empty for no login.")
    password_env: str = Field(
        default="OPSCOPE_SMTP_PASSWORD", description="Variable with the password."
    )
    sender: str = Field(default="opscope@localhost", description="From address.")
    to: list[str] = Field(min_length=1, max_length=50, description="Recipients.")
    subject: str = Field(
        default="[opscope] {{ incident.title or event.name or kind }}",
        description="Subject template.",
    )
    body: str = Field(
        default="{{ incident.summary or event.summary or anomaly.summary }}\n\n"
        "Root cause: " + ROOT_CAUSE_TEXT + "\n{{ links.subject }}\n",
        description="Body template (plain text).",
    )
    timeout: float = Field(default=15.0, gt=0, le=120, description="Seconds for each SMTP step.")


class EmailAction(Action[EmailConfig]):
    kind: ClassVar[str] = "email"
    config_model: ClassVar[type[ActionConfig]] = EmailConfig

    def target(self) -> str:
        return f"smtp://{self.config.host}:{self.config.port}"

    def prepare(self, ctx: ActionContext) -> dict[str, Any]:
        subject = RENDERER.render_text(self.config.subject, ctx.fields)
        subject = " ".join(subject.split())[:SUBJECT_MAX]
        return {
            "from": self.config.sender,
            "to": list(self.config.to),
            "subject": subject,
            "body": RENDERER.render_text(self.config.body, ctx.fields),
        }

    def deliver(self, inputs: dict[str, Any], ctx: ActionContext) -> Outcome:
        message = EmailMessage()
        message["From"] = inputs["from"]
        message["To"] = ", ".join(inputs["to"])
        message["Subject"] = inputs["subject"]
        message["Date"] = formatdate(ctx.now.timestamp(), usegmt=True)
        digest = hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:32]
        message["Message-ID"] = f"<{digest}@opscope>"
        message.set_content(inputs["body"])
        try:
            with smtplib.SMTP(
                self.config.host, self.config.port, timeout=self.config.timeout
            ) as smtp:
                if self.config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.config.username:
                    smtp.login(self.config.username, os.environ.get(self.config.password_env, ""))
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"SMTP refused: {exc.smtp_code} {exc.smtp_error!r}",
                retryable=400 <= exc.smtp_code < 500,
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(
                f"all recipients refused: {list(exc.recipients)}", retryable=False
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP failed: {exc}", retryable=True) from exc
        return Outcome(result={"message_id": message["Message-ID"], "refused": sorted(refused)})
