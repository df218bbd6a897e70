"""OTLP/HTTP in both encodings: the same request as protobuf and as JSON stores the same
records, and the answers are Export*ServiceResponse messages in the request's encoding."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from fastapi.testclient import TestClient
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from conftest import FIXTURES

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _json_doc(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / "collect" / name).read_text())
    return doc


def _as_protobuf(doc: dict[str, Any], message: Any) -> bytes:
    """The request in the protobuf encoding. OTLP JSON writes trace and span ids in hex,
    the generic protobuf JSON mapping reads bytes as base64: convert before parsing."""
    doc = copy.deepcopy(doc)
    for resource in doc.get("resourceLogs", []):
        for scope in resource.get("scopeLogs", []):
            for record in scope.get("logRecords", []):
                for key in ("traceId", "spanId"):
                    if record.get(key):
                        record[key] = base64.b64encode(bytes.fromhex(record[key])).decode()
    json_format.ParseDict(doc, message)
    data: bytes = message.SerializeToString()
    return data


def _logs(client: TestClient, reader: dict[str, str], source: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(
        "/api/v1/logs", params={"source": source, "limit": 100}, headers=reader).json()["items"]
    return sorted(items, key=lambda r: (r["ts"], r["message"]))


def test_protobuf_logs_store_what_the_json_encoding_stores(
        client: TestClient, writer: dict[str, str], reader: dict[str, str]) -> None:
    doc = _json_doc("otlp-logs.json")
    as_json = client.post("/otlp/v1/logs", json=doc, headers=writer)
    assert as_json.status_code == 200, as_json.text
    first = _logs(client, reader, "otlp")
    assert first and any(r["attributes"].get("trace_id") == "5b8efff798038103d269b633813fc60c"
                         for r in first)
    body = _as_protobuf(doc, ExportLogsServiceRequest())
    as_proto = client.post("/otlp/v1/logs", content=body, headers={**writer, **PROTOBUF})
    assert as_proto.status_code == 200, as_proto.text
    assert as_proto.headers["content-type"] == "application/x-protobuf"
    answer = ExportLogsServiceResponse()
    answer.ParseFromString(as_proto.content)
    assert not answer.HasField("partial_success")
    both = _logs(client, reader, "otlp")
    assert len(both) == 2 * len(first)

    # Records without a time of their own are stamped on arrival, so compare the rest.
    def content(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((r["message"], r["level"], r["entity"],
                       tuple(sorted(r["attributes"].items()))) for r in rows)

    assert content(both) == sorted(content(first) * 2)
    timed = [r["ts"] for r in both if r["message"].startswith("payment gateway timeout")]
    assert len(timed) == 2 and timed[0] == timed[1]


def test_protobuf_metrics_match_json_metrics(
        client: TestClient, writer: dict[str, str], reader: dict[str, str]) -> None:
    doc = _json_doc("otlp-metrics.json")
    json_answer = client.post("/otlp/v1/metrics", json=doc, headers=writer)
    assert json_answer.status_code == 200, json_answer.text
    accepted = json_answer.json()
    before = client.get("/api/v1/metrics/names", headers=reader).json()["series"]
    assert len(before) > 5
    body = _as_protobuf(doc, ExportMetricsServiceRequest())
    resp = client.post("/otlp/v1/metrics", content=body, headers={**writer, **PROTOBUF})
    assert resp.status_code == 200, resp.text
    answer = ExportMetricsServiceResponse()
    answer.ParseFromString(resp.content)
    # The fixture holds an exponential histogram, which is refused by name.
    assert answer.partial_success.rejected_data_points == 1
    assert "exponential histograms are not supported" in answer.partial_success.error_message
    after = client.get("/api/v1/metrics/names", headers=reader).json()["series"]
    assert after == before  # the same series: both encodings name them alike
    points = client.get("/api/v1/metrics/series", params={"name": "http.server.active_requests"},
                        headers=reader).json()["series"]
    assert points and all(len(s["points"]) % 2 == 0 for s in points)
    assert accepted["partialSuccess"]["rejectedDataPoints"] == "1"
    assert accepted["partialSuccess"]["errorMessage"] == answer.partial_success.error_message


def test_rejected_items_come_back_as_partial_success(
        client: TestClient, writer: dict[str, str]) -> None:
    doc = {"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1795723235925742000", "body": {"stringValue": "fine"}},
        {"timeUnixNano": "not-a-time", "body": {"stringValue": "broken"}},
    ]}]}]}
    resp = client.post("/otlp/v1/logs", json=doc, headers=writer)
    assert resp.status_code == 200, resp.text
    partial = resp.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert "timeUnixNano" in partial["errorMessage"]
    strict = client.post("/otlp/v1/logs", json=doc, params={"partial": "false"},
                         headers=writer)
    assert strict.status_code == 422
    proto = ExportLogsServiceRequest()
    record = proto.resource_logs.add().scope_logs.add().log_records.add()
    record.body.string_value = "ok"
    record.time_unix_nano = 1795723235925742000
    resp = client.post("/otlp/v1/logs", content=proto.SerializeToString(),
                       headers={**writer, **PROTOBUF})
    assert resp.status_code == 200 and resp.content == b""  # an empty response message


def test_malformed_protobuf_and_wrong_types_are_refused(
        client: TestClient, writer: dict[str, str]) -> None:
    bad = client.post("/otlp/v1/logs", content=b"\x0a\xff\xff\xff\x0f",
                      headers={**writer, **PROTOBUF})
    assert bad.status_code == 422
    assert "not an OTLP logs protobuf request" in bad.text
    other = client.post("/otlp/v1/metrics", content=b"x",
                        headers={**writer, "Content-Type": "text/plain"})
    assert other.status_code == 415
    assert "send application/x-protobuf or application/json" in other.text
