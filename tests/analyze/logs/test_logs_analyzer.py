import json
from datetime import UTC, datetime, timedelta

from opscope.analyze.logs.analyzer import LogAnalyzer, LogAnalyzerConfig
from opscope.analyze.logs.new_template import NewTemplateConfig
from opscope.model import Level, LogRecord


def test_batches_get_templates_headers_and_anomalies() -> None:
    config = LogAnalyzerConfig(new_template=NewTemplateConfig(warmup_seconds=60,
                                                              warmup_lines=3))
    analyzer = LogAnalyzer(config)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    raw = [f"2024-01-01 00:00:{i:02d},000 INFO [main] Worker: job {i} done" for i in range(5)]
    batch = [LogRecord(ts=t0 + timedelta(seconds=i), message=m) for i, m in enumerate(raw)]
    records, anomalies = analyzer.process(batch)
    assert anomalies == []
    assert len({r.template_id for r in records}) == 1
    assert records[0].params == ["0"]
    assert records[0].level is Level.INFO
    assert records[0].attributes["component"] == "main"
    later = LogRecord(ts=t0 + timedelta(minutes=5),
                      message="2024-01-01 00:05:00,000 ERROR [main] Worker: disk full on /dev/sda")
    _, found = analyzer.process([later])
    assert [a.kind for a in found] == ["log_new_template"]
    assert found[0].evidence["template"] == "Worker: disk full on <*>"
    state = json.loads(json.dumps(analyzer.to_json()))
    restored = LogAnalyzer.from_json(state)
    assert restored.to_json() == analyzer.to_json()
