"""Helpers of the reaction tests: a recording HTTP receiver, incidents, engines."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opscope.react.engine import ReactionEngine, ReactPorts
from opscope.react.memory import ManualClock, MemoryAnnotator
from opscope.react.rules import parse_rules
from opscope.react.settings import ReactSettings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "react"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


Reply = tuple[int, Any, dict[str, str]]


@dataclass
class Receiver:
    """Records every request; answers with queued replies, then with ``default``."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    default: Callable[[Received], Reply] = lambda _r: (200, {"ok": True}, {})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, req: Received) -> Reply:
        with self.lock:
            self.requests.append(req)
            if self.replies:
                return self.replies.pop(0)
        return self.default(req)

    def bodies(self, path: str | None = None) -> list[Any]:
        return [r.json() for r in self.requests if path is None or r.path == path]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            req = Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
            status, body, headers = receiver.answer(req)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


def incident(**changes: Any) -> dict[str, Any]:
    """An incident as the correlation stage describes it (the shape triggers carry)."""
    base = json.loads((FIXTURES / "incident.json").read_text())
    out: dict[str, Any] = copy.deepcopy(base)
    out.update(changes)
    return out


def incident_trigger(kind: str = "incident.opened", **changes: Any) -> dict[str, Any]:
    return {"kind": kind, "incident": incident(**changes)}


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer, threading.Thread]:
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return rec, server, thread


def make_engine(
    rules: str,
    *,
    ports: ReactPorts | None = None,
    clock: ManualClock | None = None,
    runbook_dir: Path | None = None,
    sleeps: list[float] | None = None,
    **settings: Any,
) -> tuple[ReactionEngine, ReactPorts, ManualClock]:
    ports = ports or ReactPorts.in_memory(annotator=MemoryAnnotator())
    clock = clock or ManualClock(T0)
    recorded = sleeps if sleeps is not None else []
    sleep: Callable[[float], None] = recorded.append
    engine = ReactionEngine(
        parse_rules(rules),
        ports,
        ReactSettings(runbook_dir=runbook_dir, base_url="http://opscope.test", **settings),
        clock=clock,
        sleep=sleep,
        approval_secret=b"0123456789abcdef-test-secret",
    )
    return engine, ports, clock
