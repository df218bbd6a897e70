from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.policy import default as default_policy
from typing import Any

import aiosmtpd.controller as aiosmtpd
import pytest
from react_kit import incident_trigger, make_engine

from opscope.model.execution import ExecutionStatus


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _rules(port: int) -> str:
    return f"""
rules:
  - name: mail
    trigger: {{on: incident.opened}}
    actions:
      - kind: email
        with:
          host: 127.0.0.1
          port: {port}
          sender: opscope@example.org
          to: [oncall@example.org, lead@example.org]
          subject: "[{{{{ incident.severity }}}}] {{{{ incident.title }}}}"
"""


def test_email_is_delivered_over_smtp(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    engine, _, _ = make_engine(_rules(port))
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.reason
    [(sender, rcpts, raw)] = inbox.messages
    assert sender == "opscope@example.org"
    assert rcpts == ["oncall@example.org", "lead@example.org"]
    message = email.message_from_bytes(raw, policy=default_policy)
    assert message["Subject"] == "[critical] checkout latency above SLO"
    assert message["Message-ID"] == execution.result["message_id"]
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert (
        "Root cause: cart-service — memory grew 4x" in body
        and "http://opscope.test/incidents/inc-0042" in body
    )


def test_subject_line_breaks_cannot_inject_headers(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    engine, _, _ = make_engine(_rules(port))
    [execution] = engine.handle(incident_trigger(title="hi\r\nBcc: victim@example.org\r\n\r\nx"))
    assert execution.status is ExecutionStatus.SUCCEEDED
    message = email.message_from_bytes(inbox.messages[0][2], policy=default_policy)
    assert message["Bcc"] is None
    assert message["Subject"] == "[critical] hi Bcc: victim@example.org x"
    assert inbox.messages[0][1] == ["oncall@example.org", "lead@example.org"]


def test_refused_connection_is_retried_then_fails() -> None:
    sleeps: list[float] = []
    engine, _, _ = make_engine(_rules(_free_port()), sleeps=sleeps)
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.FAILED and execution.attempts == 3
