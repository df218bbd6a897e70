"""A local stand-in for Slack's Web API, for the demo and tests.

It answers ``POST <url>/chat.postMessage`` and ``POST <url>/chat.update`` the way Slack
does — HTTP 200 with ``{"ok": true, "channel": ..., "ts": ...}``, or ``{"ok": false,
"error": "not_authed"}`` without a bearer token, ``"message_not_found"`` for an update of
an unknown ``ts`` — and keeps each channel's messages by ``ts``, so an update replaces
the message it names. Every post or update is handed to ``on_message`` (the demo prints
it in the terminal with :func:`render_message`).

Only loopback addresses are served: it is a demo and test fixture, not a Slack clone.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

MAX_BODY = 1_000_000


@dataclass(frozen=True)
class SlackMessage:
    """One message as the receiver holds it after a post or an update."""

    method: str
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1
    """1 when posted; each ``chat.update`` adds one."""


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text", ""))
    return "" if value is None else str(value)


def render_message(message: SlackMessage) -> str:
    """The message as terminal text: header, fields, sections, context and link."""
    verb = "posted" if message.version == 1 else f"updated (edit {message.version - 1})"
    lines = [f"┌ slack #{message.channel} ts={message.ts} {verb}"]
    for block in message.blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"│ {_plain(block.get('text')).upper()}")
        elif kind == "section" and block.get("fields"):
            facts = [_plain(f).replace("*", "").replace("\n", ": ", 1)
                     for f in block["fields"]]
            lines.append("│ " + " · ".join(facts))
        elif kind == "section":
            lines.extend(f"│ {line}" for line in _plain(block.get("text")).splitlines())
        elif kind == "context":
            lines.append("│ " + " ".join(_plain(e) for e in block.get("elements", [])))
        elif kind == "actions":
            urls = [str(e.get("url", "")) for e in block.get("elements", []) if e.get("url")]
            lines.extend(f"│ → {u}" for u in urls)
    if not message.blocks:
        lines.append(f"│ {message.text}")
    lines.append("└" + "─" * 40)
    return "\n".join(lines)


class SlackReceiver:
    """Serves the two Web API methods on ``127.0.0.1``; ``url`` is the API base URL."""

    def __init__(self, port: int = 0,
                 on_message: Callable[[SlackMessage], None] | None = None) -> None:
        self.on_message = on_message
        self.messages: dict[tuple[str, str], SlackMessage] = {}
        self.history: list[SlackMessage] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api"

    def start(self) -> SlackReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="slack-receiver", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving. Idempotent."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> SlackReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def answer(self, method: str, authorization: str, body: dict[str, Any]) -> dict[str, Any]:
        """What Slack would answer to ``method`` with this body (and keep the message)."""
        if not authorization.startswith("Bearer ") or len(authorization) <= len("Bearer "):
            return {"ok": False, "error": "not_authed"}
        channel = str(body.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        with self._lock:
            if method == "chat.postMessage":
                ts = f"{int(time.time())}.{next(self._counter):06d}"
                message = SlackMessage(method, channel, ts, str(body.get("text", "")),
                                       list(body.get("blocks") or []))
            elif method == "chat.update":
                ts = str(body.get("ts", ""))
                old = self.messages.get((channel, ts))
                if old is None:
                    return {"ok": False, "error": "message_not_found"}
                message = SlackMessage(method, channel, ts, str(body.get("text", "")),
                                       list(body.get("blocks") or []), old.version + 1)
            else:
                return {"ok": False, "error": "unknown_method"}
            self.messages[(channel, ts)] = message
            self.history.append(message)
        if self.on_message is not None:
            self.on_message(message)
        return {"ok": True, "channel": channel, "ts": ts}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._send(413, {"ok": False, "error": "request_too_large"})
                    return
                try:
                    body = orjson.loads(self.rfile.read(length) or b"{}")
                except orjson.JSONDecodeError:
                    self._send(200, {"ok": False, "error": "invalid_json"})
                    return
                if not isinstance(body, dict):
                    self._send(200, {"ok": False, "error": "invalid_json"})
                    return
                method = self.path.rstrip("/").rsplit("/", 1)[-1]
                auth = self.headers.get("Authorization", "")
                self._send(200, receiver.answer(method, auth, body))

            def _send(self, status: int, answer: dict[str, Any]) -> None:
                data = orjson.dumps(answer)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the demo prints messages itself; access lines would drown them

        return Handler
