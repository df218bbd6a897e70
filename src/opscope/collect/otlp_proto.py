"""OTLP/HTTP with the protobuf encoding, the default of OpenTelemetry exporters.

A binary ``ExportLogsServiceRequest`` or ``ExportMetricsServiceRequest`` is decoded with
the generated classes of ``opentelemetry-proto`` and turned into the same document the
JSON encoding gives (field names in lowerCamelCase, enums as numbers, 64-bit integers
as strings), so :mod:`opscope.collect.otlp` parses both encodings alike. The one place
the two encodings differ, trace and span ids (hex in OTLP JSON, base64 in the generic
protobuf JSON mapping), is converted back to hex.

The answer to a protobuf request is a protobuf ``Export*ServiceResponse``, with
``partial_success`` set when items were rejected, as the OTLP specification asks.

``opentelemetry-proto`` is an optional dependency (``pip install 'opscope[otlp]'``);
without it, protobuf requests get a 415 that says so.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from opscope.errors import UnsupportedMediaType, ValidationFailed

_MISSING = ("OTLP protobuf needs the otlp extra: pip install 'opscope[otlp]' "
            "(or configure the exporter for JSON: otlphttp encoding: json)")


def _classes(signal: str) -> tuple[Any, Any]:
    try:
        if signal == "logs":
            from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs
            return logs.ExportLogsServiceRequest, logs.ExportLogsServiceResponse
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics
        return metrics.ExportMetricsServiceRequest, metrics.ExportMetricsServiceResponse
    except ImportError:
        raise UnsupportedMediaType(_MISSING) from None


def _hex_ids(doc: dict[str, Any]) -> None:
    for resource in doc.get("resourceLogs", ()):
        for scope in resource.get("scopeLogs", ()):
            for record in scope.get("logRecords", ()):
                for key in ("traceId", "spanId"):
                    value = record.get(key)
                    if isinstance(value, str):
                        try:
                            record[key] = base64.b64decode(value, validate=True).hex()
                        except (binascii.Error, ValueError):
                            record.pop(key)


def decode(signal: str, body: bytes) -> dict[str, Any]:
    """The OTLP JSON document of a protobuf ``signal`` request ("logs" or "metrics")."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError

    request_class, _ = _classes(signal)
    message = request_class()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise ValidationFailed(f"not an OTLP {signal} protobuf request: {exc}") from None
    doc: dict[str, Any] = json_format.MessageToDict(message, use_integers_for_enums=True)
    if signal == "logs":
        _hex_ids(doc)
    return doc


def encode_response(signal: str, rejected: int, message: str) -> bytes:
    """A protobuf ``Export*ServiceResponse``; ``partial_success`` when items were rejected."""
    _, response_class = _classes(signal)
    response = response_class()
    if rejected:
        partial = response.partial_success
        if signal == "logs":
            partial.rejected_log_records = rejected
        else:
            partial.rejected_data_points = rejected
        partial.error_message = message
    data: bytes = response.SerializeToString()
    return data
