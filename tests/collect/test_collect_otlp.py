import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from opscope.collect.otlp import parse_otlp_logs, parse_otlp_metrics
from opscope.errors import PayloadTooLarge
from opscope.model import Level

FIXTURES = Path(__file__).parent.parent / "fixtures" / "collect"
NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
AT = datetime(2026, 11, 26, 20, 0, 35, tzinfo=UTC)


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def test_logs_document() -> None:
    result = parse_otlp_logs(load("otlp-logs.json"), NOW)
    assert result.ok
    error, warn, info, debug = result.items
    assert error.ts == datetime(2026, 11, 26, 20, 0, 35, 925742, tzinfo=UTC)
    assert (error.entity, error.source, error.level) == ("checkout", "otlp", Level.ERROR)
    assert error.message == "payment gateway timeout after 3000 ms"
    assert error.attributes["retry"] == "2"
    assert error.attributes["http.status_code"] == "504"
    assert error.attributes["sampled"] == "true"
    assert error.attributes["latency"] == "3.01"
    assert orjson.loads(error.attributes["tags"]) == ["pay", 7]
    assert error.attributes["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert error.attributes["host.name"] == "vm-3"
    # timeUnixNano 0 means unknown: the observed time is used
    assert warn.ts == datetime(2026, 11, 26, 20, 0, 36, tzinfo=UTC)
    assert warn.level is Level.WARNING
    assert orjson.loads(warn.message) == {"event": "retry", "n": 3}
    assert info.ts == NOW and info.level is Level.INFO
    assert debug.entity == "" and debug.level is Level.DEBUG


def _logs(*records: Any) -> dict[str, Any]:
    return {"resourceLogs": [{"scopeLogs": [{"logRecords": list(records)}]}]}


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ("text", "resourceLogs[0].scopeLogs[0].logRecords[1]"),
        ({"timeUnixNano": "soon"}, "resourceLogs[0].scopeLogs[0].logRecords[1].timeUnixNano"),
        ({"timeUnixNano": 1.5}, "resourceLogs[0].scopeLogs[0].logRecords[1].timeUnixNano"),
        ({"attributes": {"a": 1}}, "resourceLogs[0].scopeLogs[0].logRecords[1].attributes"),
        ({"attributes": [{"value": {}}]},
         "resourceLogs[0].scopeLogs[0].logRecords[1].attributes[0]"),
        ({"body": {"intValue": "x"}}, "resourceLogs[0].scopeLogs[0].logRecords[1].body"),
        ({"body": {"stringValue": "x" * 70_000}},
         "resourceLogs[0].scopeLogs[0].logRecords[1].body"),
    ],
)
def test_bad_log_records(record: Any, field: str) -> None:
    result = parse_otlp_logs(_logs({"body": {"stringValue": "ok"}}, record), NOW)
    assert [r.message for r in result.items] == ["ok"]
    assert [(p.index, p.field) for p in result.problems] == [(1, field)]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "$"),
        ({"resourceLogs": {}}, "resourceLogs"),
        ({"resourceLogs": [3]}, "resourceLogs[0]"),
        ({"resourceLogs": [{"scopeLogs": [[]]}]}, "resourceLogs[0].scopeLogs[0]"),
    ],
)
def test_broken_structure(doc: Any, field: str) -> None:
    result = parse_otlp_logs(doc, NOW)
    assert result.items == [] and [(p.index, p.field) for p in result.problems] == [(None, field)]


def test_empty_request_is_fine() -> None:
    assert parse_otlp_logs({}, NOW).ok and parse_otlp_metrics({"resourceMetrics": []}, NOW).ok


def test_attributes_are_bounded() -> None:
    attrs = [{"key": f"k{i}", "value": {"stringValue": "v" * 5000}} for i in range(100)]
    [record] = parse_otlp_logs(_logs({"attributes": attrs}), NOW).items
    assert len(record.attributes) == 64
    assert max(len(v) for v in record.attributes.values()) == 4096


def test_log_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_otlp_logs(_logs({}, {}, {}), NOW, max_items=2)


def test_metrics_document() -> None:
    result = parse_otlp_metrics(load("otlp-metrics.json"), NOW)
    assert [p.field for p in result.problems] == [
        "resourceMetrics[0].scopeMetrics[0].metrics[4].exponentialHistogram"]
    by_key = {(s.name, tuple(sorted(s.labels.items()))): s for s in result.items}
    assert len(result.items) == 13
    gauge = by_key[("http.server.active_requests",
                    (("http.route", "/pay"), ("service", "checkout")))]
    assert (gauge.value, gauge.ts, gauge.entity) == (12, AT, "checkout")
    ok = by_key[("http.server.requests", (("http.status_code", "200"), ("service", "checkout")))]
    assert ok.value == 1027
    gap = by_key[("http.server.requests", (("http.status_code", "500"), ("service", "checkout")))]
    assert math.isnan(gap.value)
    buckets = [(s.labels["le"], s.value) for s in result.items
               if s.name == "http.server.duration_bucket"]
    assert buckets == [("0.1", 2), ("0.5", 7), ("1", 9), ("+Inf", 10)]  # cumulative
    assert by_key[("http.server.duration_sum", (("service", "checkout"),))].value == 4.2
    assert by_key[("http.server.duration_count", (("service", "checkout"),))].value == 10
    quantiles = {s.labels["quantile"]: s.value for s in result.items if s.name == "gc.pause"}
    assert quantiles == {"0.5": 0.0001, "0.99": 0.0002}
    assert by_key[("gc.pause_count", (("service", "gc-owner"),))].value == 3


def _metrics(*metrics: Any) -> dict[str, Any]:
    return {"resourceMetrics": [{"scopeMetrics": [{"metrics": list(metrics)}]}]}


@pytest.mark.parametrize(
    ("metric", "index"),
    [
        ({"name": "h", "histogram": {"dataPoints": [
            {"count": 1, "bucketCounts": [1, 0], "explicitBounds": [1, 2]}]}}, 1),
        ({"name": "g", "gauge": {"dataPoints": [{"asInt": 5}, {"asInt": "x"}]}}, 2),
        ({"name": "g", "gauge": {"dataPoints": [{"timeUnixNano": "1"}]}}, 1),
        ({"name": "bad name!", "gauge": {"dataPoints": [{"asInt": 1}]}}, 1),
        ({"name": "s", "summary": {"dataPoints": [{"quantileValues": [3]}]}}, 1),
    ],
)
def test_bad_data_points(metric: Any, index: int) -> None:
    ok = {"name": "ok", "gauge": {"dataPoints": [{"asDouble": 1.5}]}}
    result = parse_otlp_metrics(_metrics(ok, metric), NOW)
    assert result.items[0].name == "ok"
    assert [p.index for p in result.problems] == [index]


def test_metric_without_exactly_one_kind() -> None:
    result = parse_otlp_metrics(_metrics({"name": "x"}, {"name": "y", "gauge": {}, "sum": {}}),
                                NOW)
    assert [p.field for p in result.problems] == [
        "resourceMetrics[0].scopeMetrics[0].metrics[0]",
        "resourceMetrics[0].scopeMetrics[0].metrics[1]"]
