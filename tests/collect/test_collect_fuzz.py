"""Hostile input: every parser answers with problems or an opscope error, never a crash."""

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opscope.collect.alertmanager import parse_alertmanager
from opscope.collect.batch import BatchResult, validate_items
from opscope.collect.body import decode_json, decode_ndjson, decode_text
from opscope.collect.grafana import parse_grafana
from opscope.collect.logs import parse_log_lines
from opscope.collect.otlp import parse_otlp_logs, parse_otlp_metrics
from opscope.collect.prometheus import parse_exposition
from opscope.collect.syslog import parse_syslog
from opscope.collect.tickets import parse_tickets_csv
from opscope.collect.topology import parse_topology
from opscope.errors import OpscopeError
from opscope.model import Event, LogRecord

NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.sampled_from([
    "version", "status", "alerts", "labels", "annotations", "alertname", "startsAt", "endsAt",
    "fingerprint", "severity", "values", "resourceLogs", "scopeLogs", "logRecords", "body",
    "attributes", "key", "value", "stringValue", "intValue", "doubleValue", "arrayValue",
    "kvlistValue", "timeUnixNano", "severityNumber", "resourceMetrics", "scopeMetrics",
    "metrics", "name", "gauge", "sum", "histogram", "summary", "dataPoints", "asInt",
    "asDouble", "bucketCounts", "explicitBounds", "quantileValues", "count", "flags",
    "entities", "relations", "services", "calls", "runs_on", "id", "kind", "source",
    "target", "ts", "message", "level", "starts_at",
]) | st.text(max_size=8)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
           | st.sampled_from(["4", "1", "firing", "resolved", "0001-01-01T00:00:00Z",
                              "2026-11-26T20:00:00Z", "1795723235000000000", "NaN"]))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                       | st.dictionaries(KEYS, inner, max_size=6), max_leaves=30)


def _safe(call: Any) -> None:
    try:
        result = call()
    except OpscopeError:
        return
    if isinstance(result, BatchResult):
        assert all(p.message for p in result.problems)


@FUZZ
@given(JSONISH)
def test_json_documents(doc: Any) -> None:
    _safe(lambda: parse_alertmanager(doc, NOW))
    _safe(lambda: parse_grafana(doc, NOW))
    _safe(lambda: parse_otlp_logs(doc, NOW))
    _safe(lambda: parse_otlp_metrics(doc, NOW))
    _safe(lambda: parse_topology(doc))
    _safe(lambda: validate_items(Event, doc, max_items=100))
    _safe(lambda: validate_items(LogRecord, doc, max_items=100))
    _safe(lambda: validate_items(LogRecord, [doc], max_items=100))


@FUZZ
@given(st.dictionaries(KEYS, JSONISH, max_size=8))
def test_alert_shaped_documents(alert: dict[str, Any]) -> None:
    _safe(lambda: parse_alertmanager({"version": "4", "alerts": [alert]}, NOW))
    _safe(lambda: parse_grafana({"version": "1", "alerts": [alert]}, NOW))
    _safe(lambda: parse_otlp_logs({"resourceLogs": [{"scopeLogs": [
        {"logRecords": [alert]}]}]}, NOW))
    _safe(lambda: parse_otlp_metrics({"resourceMetrics": [{"scopeMetrics": [
        {"metrics": [{"name": "m", "histogram": {"dataPoints": [alert]}}]}]}]}, NOW))


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _safe(lambda: decode_json(data))
    _safe(lambda: decode_ndjson(data))
    _safe(lambda: decode_text(data, None))
    _safe(lambda: decode_text(data, "latin-1"))
    _safe(lambda: parse_syslog(data, NOW))
    _safe(lambda: parse_syslog(b"<13>1 " + data, NOW))
    _safe(lambda: parse_syslog(b"<13>Nov 26 20:00:00 " + data, NOW))
    text = data.decode("utf-8", errors="replace")
    _safe(lambda: parse_exposition(text, NOW))
    _safe(lambda: parse_log_lines(text, NOW, "fuzz", "", max_lines=1000))
    _safe(lambda: parse_tickets_csv(text))
    _safe(lambda: parse_tickets_csv("id,title,created_at\n" + text))


EXPOSITION = st.lists(st.sampled_from([
    "# TYPE h histogram", "# TYPE s summary", "# HELP x y", "h_bucket{le=\"1\"} 2",
    "s{quantile=\"0.5\"} NaN", "x{a=\"\\\\\\\"\\n\"} +Inf 1", "x{", "x}", "{}", "x 1 2 3",
    "x{a=\"1\",} -Inf", "# TYPE x", "x{a=\"b\"c} 1", " ", "\t", "x 0x1F", "x 1e400",
]) | st.text(max_size=30), max_size=20).map("\n".join)


@FUZZ
@given(EXPOSITION, st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))
def test_exposition_fragments(text: str, extra: dict[str, str]) -> None:
    _safe(lambda: parse_exposition(text, NOW, extra))


SYSLOG = st.lists(st.sampled_from([
    b"<", b">", b"<13>", b"<191>", b"1 ", b"- ", b"[", b"]", b"=", b'"', b"\\", b" ",
    b"x@1", b"a=\"v\"", b"2026-11-26T20:00:00Z ", b"Nov 26 20:00:00 ", b"tag[1]: ",
    b"\xef\xbb\xbf", b"\xff", b"\n",
]), max_size=25).map(b"".join)


@FUZZ
@given(SYSLOG)
def test_syslog_fragments(data: bytes) -> None:
    _safe(lambda: parse_syslog(data, NOW))
