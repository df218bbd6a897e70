"""Scraping Prometheus endpoints on loopback: labels, synthetic series, failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from opscope.collect.scrape import Scraper
from opscope.config import ScrapeTarget
from opscope.model import MetricSample

FIXTURE = Path(__file__).parent.parent / "fixtures" / "collect" / "prometheus-2.42-self-metrics.txt"


class Exporter:
    """A loopback /metrics endpoint whose answer the test sets."""

    def __init__(self) -> None:
        self.status = 200
        self.body = FIXTURE.read_bytes()
        self.headers_seen: list[dict[str, str]] = []
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                exporter.headers_seen.append(dict(self.headers))
                self.send_response(exporter.status)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(exporter.body)))
                self.end_headers()
                self.wfile.write(exporter.body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def exporter() -> Iterator[Exporter]:
    exp = Exporter()
    yield exp
    exp.close()


def _scrape(target: ScrapeTarget) -> tuple[Scraper, list[list[MetricSample]]]:
    delivered: list[list[MetricSample]] = []

    async def ingest(batch: list[MetricSample]) -> None:
        delivered.append(batch)

    scraper = Scraper([target], ingest, spread=False)

    async def once() -> None:
        await scraper.open()
        await scraper.scrape_once(scraper.targets[0])
        await scraper.stop()

    asyncio.run(once())
    return scraper, delivered


def _value(samples: list[MetricSample], name: str) -> float:
    [found] = [s.value for s in samples if s.name == name]
    return found


def test_scrape_labels_samples_like_prometheus(exporter: Exporter) -> None:
    target = ScrapeTarget(url=exporter.url, job="node", labels={"dc": "eu1"})
    scraper, delivered = _scrape(target)
    samples = delivered[-1]
    port = exporter.server.server_address[1]
    goroutines = [s for s in samples if s.name == "go_goroutines"]
    assert goroutines[0].labels == {"job": "node", "instance": f"127.0.0.1:{port}", "dc": "eu1"}
    assert goroutines[0].value == 27
    assert _value(samples, "up") == 1.0
    assert _value(samples, "scrape_samples_scraped") == len(samples) - 3
    assert _value(samples, "scrape_duration_seconds") > 0
    state = scraper.targets[0]
    assert state.up and state.last_error == "" and state.failures == 0
    assert exporter.headers_seen[-1]["Accept"].startswith("text/plain;version=0.0.4")


def test_failures_deliver_up_zero_with_the_reason(exporter: Exporter) -> None:
    exporter.status = 503
    scraper, delivered = _scrape(ScrapeTarget(url=exporter.url))
    assert [s.name for s in delivered[-1]] == [
        "up", "scrape_duration_seconds", "scrape_samples_scraped"]
    assert _value(delivered[-1], "up") == 0.0
    assert scraper.targets[0].last_error == "HTTP 503"
    exporter.status = 200
    exporter.body = b"x" * 5000
    scraper, _ = _scrape(ScrapeTarget(url=exporter.url, max_bytes=2048))
    assert scraper.targets[0].last_error == "body exceeds 2048 bytes"
    exporter.close()  # nothing listens any more
    scraper, delivered = _scrape(ScrapeTarget(url=exporter.url, timeout_seconds=2))
    assert not scraper.targets[0].up
    assert scraper.targets[0].last_error.startswith("ConnectError")
    assert _value(delivered[-1], "up") == 0.0


def test_bad_lines_are_dropped_and_counted(exporter: Exporter) -> None:
    exporter.body = b"good_metric 1\nbad metric line {\nother_metric{a=\"1\"} 2\n"
    scraper, delivered = _scrape(ScrapeTarget(url=exporter.url))
    names = [s.name for s in delivered[-1]]
    assert names[:2] == ["good_metric", "other_metric"]
    assert scraper.targets[0].dropped_lines == 1 and scraper.targets[0].up


def test_bearer_token_comes_from_the_environment(exporter: Exporter,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = ScrapeTarget(url=exporter.url, bearer_token_env="NODE_TOKEN")
    scraper, _ = _scrape(target)
    assert scraper.targets[0].last_error == "$NODE_TOKEN is not set"
    monkeypatch.setenv("NODE_TOKEN", "s3cret")
    scraper, _ = _scrape(target)
    assert exporter.headers_seen[-1]["Authorization"] == "Bearer s3cret"


def test_the_loop_scrapes_on_its_interval(exporter: Exporter) -> None:
    delivered: list[int] = []

    async def run() -> None:
        got = asyncio.Event()

        async def ingest(batch: list[MetricSample]) -> None:
            delivered.append(len(batch))
            if len(delivered) >= 2:
                got.set()

        scraper = Scraper([ScrapeTarget(url=exporter.url, interval_seconds=1)], ingest,
                          spread=False)
        await scraper.start()
        try:
            await asyncio.wait_for(got.wait(), timeout=10)
        finally:
            await scraper.stop()

    asyncio.run(run())
    assert len(delivered) >= 2


def test_target_labels_are_checked() -> None:
    with pytest.raises(ValidationError, match="not a label name"):
        ScrapeTarget(url="http://127.0.0.1:9100/metrics", labels={"bad-name": "x"})
    with pytest.raises(ValidationError, match="not a label name"):
        ScrapeTarget(url="http://127.0.0.1:9100/metrics", labels={"job": "x"})
    assert ScrapeTarget(url="https://node.example.com/metrics").instance == "node.example.com:443"
