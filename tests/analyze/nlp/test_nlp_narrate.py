"""Retelling a summary with the operator's own model, against a fake OpenAI-compatible
server on loopback that records what it was sent."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from opscope.analyze.nlp.narrate import INSTRUCTION, NarrationFailed, narrate
from opscope.analyze.nlp.summary import IncidentSummary, SummarySentence
from opscope.config import LanguageModel

SUMMARY = IncidentSummary("inc-7", (
    SummarySentence("A critical incident on checkout and db, affecting the user-facing web.",
                    ("incident.severity", "incident.entities", "incident.impact")),
    SummarySentence("The most likely cause is db: its latency moved first.",
                    ("hypotheses[0]",)),
))


class FakeModel:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.status = 200
        self.answer: Any = {"model": "tiny-7b", "choices": [
            {"message": {"role": "assistant", "content": "  Checkout is degraded by db.  "}}]}
        self.delay = 0.0
        self.url = ""


@pytest.fixture()
def model() -> Iterator[FakeModel]:
    fake = FakeModel()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fake.requests.append((self.path, dict(self.headers), json.loads(body)))
            time.sleep(fake.delay)
            data = (fake.answer if isinstance(fake.answer, bytes)
                    else json.dumps(fake.answer).encode())
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            return None  # a client that gave up waiting is expected here

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def test_the_model_is_sent_the_sentences_and_the_instruction_only(
        model: FakeModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LLM_KEY", "sk-local")
    config = LanguageModel(url=model.url + "/", model="tiny-7b", api_key_env="TEST_LLM_KEY",
                           max_tokens=120)
    told = narrate(config, SUMMARY)
    assert (told.text, told.model) == ("Checkout is degraded by db.", "tiny-7b")
    [(path, headers, body)] = model.requests
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-local"
    assert body["model"] == "tiny-7b" and body["max_tokens"] == 120
    assert body["temperature"] == 0 and body["stream"] is False
    system, user = body["messages"]
    assert system == {"role": "system", "content": INSTRUCTION}
    assert user["content"] == (
        "Incident inc-7. Facts:\n"
        "- A critical incident on checkout and db, affecting the user-facing web.\n"
        "- The most likely cause is db: its latency moved first.")


@pytest.mark.parametrize(("status", "answer", "reason"), [
    (500, {"error": "out of memory"}, "HTTP 500"),
    (200, b"<html>proxy login</html>", "not JSON"),
    (200, {"choices": []}, "no choices[0].message.content"),
    (200, {"choices": [{"message": {"content": "   "}}]}, "empty text"),
])
def test_a_bad_answer_is_a_clear_failure(model: FakeModel, status: int, answer: Any,
                                         reason: str) -> None:
    model.status, model.answer = status, answer
    with pytest.raises(NarrationFailed, match=re.escape(reason)):
        narrate(LanguageModel(url=model.url, model="m"), SUMMARY)


def test_a_slow_or_absent_model_fails_within_its_timeout(model: FakeModel) -> None:
    model.delay = 1.0  # the answer would come, but after the timeout
    with pytest.raises(NarrationFailed, match=r"did not answer within 0\.2 s"):
        narrate(LanguageModel(url=model.url, model="m", timeout_seconds=0.2), SUMMARY)
    with pytest.raises(NarrationFailed, match="could not be reached"):
        narrate(LanguageModel(url="http://127.0.0.1:9/v1", model="m", timeout_seconds=2),
                SUMMARY)


def test_nothing_is_sent_without_a_configured_model(
        model: FakeModel, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NarrationFailed, match=r"nlp\.llm\.url"):
        narrate(LanguageModel(), SUMMARY)
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)
    with pytest.raises(NarrationFailed, match="TEST_LLM_KEY is not set"):
        narrate(LanguageModel(url=model.url, api_key_env="TEST_LLM_KEY"), SUMMARY)
    assert model.requests == []
