"""Throughput of the ingestion hot path. Run: .venv/bin/python tests/collect/bench_collect.py

Not a test: timings depend on the machine and are reported, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opscope.collect import parse_exposition, parse_log_lines, validate_items
from opscope.model import Event, LogRecord, MetricSample

FIXTURES = Path(__file__).parent.parent / "fixtures" / "collect"
NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def rate(label: str, count: int, run: Callable[[], Any], repeat: int = 5) -> None:
    run()  # warm up caches (pydantic adapters, regexes)
    best = min(_timed(run) for _ in range(repeat))
    print(f"{label:<58} {count / best:>12,.0f} items/s  ({best * 1000:.1f} ms CPU)")


def _timed(run: Callable[[], Any]) -> float:
    # CPU time of this process: the machine is shared, and wall time mostly measures the
    # neighbours. The figure is throughput per core.
    start = time.process_time()
    run()
    return time.process_time() - start


def main() -> None:
    n = 10_000
    logs = [{"ts": f"2026-11-26T20:{i // 600 % 60:02d}:{i // 10 % 60:02d}Z",
             "message": f"payment gateway timeout after {i} ms order_id=A-{i}",
             "entity": "checkout", "level": "error" if i % 7 == 0 else "info",
             "attributes": {"host": f"vm-{i % 8}"}} for i in range(n)]
    events = [{"name": "HighLatency", "entity": f"svc-{i % 50}", "severity": "critical",
               "starts_at": "2026-11-26T20:00:22Z", "summary": "p99 latency above 2s",
               "labels": {"service": f"svc-{i % 50}", "instance": f"i-{i}"}}
              for i in range(n)]
    defaults = {"source": "api", "received_at": NOW}
    rate("validate_items LogRecord x10,000", n,
         lambda: validate_items(LogRecord, logs, max_items=n, defaults={"source": "api"}))
    rate("validate_items Event x10,000 (fingerprints derived)", n,
         lambda: validate_items(Event, events, max_items=n, defaults=defaults))
    rate("  baseline: LogRecord.model_validate per item x10,000", n,
         lambda: [LogRecord.model_validate({**item, "source": "api"}) for item in logs])
    rate("  baseline: Event.model_validate per item x10,000", n,
         lambda: [Event.model_validate({**item, **defaults}) for item in events])
    bad = [dict(item) for item in logs]
    for i in range(0, n, 100):
        bad[i]["ts"] = "not a time"
    rate("validate_items LogRecord x10,000 with 1% bad", n,
         lambda: validate_items(LogRecord, bad, max_items=n))
    text = (FIXTURES / "prometheus-2.42-self-metrics.txt").read_text()
    samples = len(parse_exposition(text, NOW).items)
    rate(f"parse_exposition Prometheus 2.42 fixture ({samples} samples)", samples,
         lambda: parse_exposition(text, NOW), repeat=50)
    parsed = [(s.name, s.labels, s.value) for s in parse_exposition(text, NOW).items]
    rate("  baseline: MetricSample(...) alone for the same samples", samples,
         lambda: [MetricSample(name=a, labels=b, value=c, ts=NOW) for a, b, c in parsed],
         repeat=50)
    rate(f"parse_exposition fixture x{samples} with job/instance labels", samples,
         lambda: parse_exposition(text, NOW, {"job": "prometheus", "instance": "vm:9090"}),
         repeat=50)
    lines = "\n".join(str(item["message"]) for item in logs)
    rate("parse_log_lines x10,000", n,
         lambda: parse_log_lines(lines, NOW, "api", "checkout", max_lines=n))


if __name__ == "__main__":
    main()
