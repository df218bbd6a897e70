"""OpenTelemetry OTLP/HTTP with the JSON encoding: logs and metrics export requests.

The JSON mapping of the protobuf messages is used as the specification describes it:
field names in lowerCamelCase, 64-bit integers as strings or numbers, enums as numbers,
``AnyValue`` as a one-key object (``{"stringValue": "..."}``).

A problem names the log record or data point by its ordinal in the request (``index``)
and by its full path (``field``, e.g. ``resourceLogs[0].scopeLogs[1].logRecords[2].body``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from opscope.collect.batch import BatchResult, clean_message, kind_of
from opscope.errors import PayloadTooLarge
from opscope.model import Level, LogRecord, MetricSample, parse_level

MAX_ITEMS = 1_000_000
MAX_ATTRIBUTES = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_DEPTH = 8  # nested arrayValue/kvlistValue deeper than this is cut, not recursed into

# OTLP SeverityNumber ranges: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR,
# 21-24 FATAL.
_SEVERITY_BANDS = (Level.DEBUG, Level.DEBUG, Level.INFO, Level.WARNING, Level.ERROR, Level.FATAL)


class OtlpError(ValueError):
    """A part of the request breaks the OTLP JSON mapping; ``field`` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (str, bool, int, float, list, dict)."""
    if not isinstance(value, dict) or depth > _MAX_DEPTH:
        return None
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "bytesValue" in value:
        return str(value["bytesValue"])  # base64, as sent
    if "arrayValue" in value:
        items = (value["arrayValue"] or {}).get("values") or []
        return [any_value(v, depth + 1) for v in items[:1000]]
    if "kvlistValue" in value:
        pairs = (value["kvlistValue"] or {}).get("values") or []
        return {str(p.get("key")): any_value(p.get("value"), depth + 1) for p in pairs[:1000]}
    return None


def as_text(value: Any) -> str:
    """A plain value as attribute text: strings as they are, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return str(value)


def attributes(pairs: Any, path: str) -> dict[str, str]:
    """A ``KeyValue`` list as a bounded string map (first 64 keys; long values cut)."""
    if pairs is None:
        return {}
    if not isinstance(pairs, list):
        raise OtlpError(path, f"attributes must be an array, got {kind_of(pairs)}")
    out: dict[str, str] = {}
    for i, pair in enumerate(pairs):
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise OtlpError(f"{path}[{i}]", "attribute must be an object with a string key")
        key = pair["key"]
        if not key or len(key) > 128 or len(out) >= MAX_ATTRIBUTES:
            continue
        try:
            value = any_value(pair.get("value"))
        except (ValueError, TypeError, AttributeError, OverflowError):
            raise OtlpError(f"{path}[{i}].value", "malformed AnyValue") from None
        if value is not None:
            out[key] = as_text(value)[:4096]
    return out


def unix_nanos(value: Any, path: str) -> datetime | None:
    """A ``fixed64`` nanosecond timestamp (string or number); 0 or absent is None."""
    if value is None or value in (0, "0", ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise OtlpError(path, "timestamp must be an integer or a string of digits")
    try:
        nanos = int(value)
        return _EPOCH + timedelta(microseconds=nanos // 1000)
    except (ValueError, OverflowError):
        raise OtlpError(path, f"invalid timestamp {str(value)[:40]!r}") from None


def _list(doc: Any, key: str, path: str) -> list[Any]:
    value = doc.get(key) if isinstance(doc, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError(f"{path}.{key}" if path else key, f"{key} must be an array")
    return value


def _walk(doc: Any, outer: str, middle: str, inner: str, result: BatchResult[Any],
          ) -> Iterator[tuple[str, dict[str, str], Any]]:
    """(path, resource attributes, leaf) for every leaf under outer[].middle[].inner[].

    A broken level of the structure is a problem for that part only; the walk goes on.
    """
    if not isinstance(doc, dict):
        result.add_problem(None, "$", f"expected a JSON object, got {kind_of(doc)}")
        return
    try:
        resources = _list(doc, outer, "")
    except OtlpError as exc:
        result.add_problem(None, exc.field, str(exc))
        return
    for ri, resource_part in enumerate(resources):
        rpath = f"{outer}[{ri}]"
        try:
            if not isinstance(resource_part, dict):
                raise OtlpError(rpath, "must be an object")
            resource = resource_part.get("resource") or {}
            res_attrs = attributes(resource.get("attributes") if isinstance(resource, dict)
                                   else None, f"{rpath}.resource.attributes")
            scopes = _list(resource_part, middle, rpath)
        except OtlpError as exc:
            result.add_problem(None, exc.field, str(exc))
            continue
        for si, scope_part in enumerate(scopes):
            spath = f"{rpath}.{middle}[{si}]"
            try:
                if not isinstance(scope_part, dict):
                    raise OtlpError(spath, "must be an object")
                leaves = _list(scope_part, inner, spath)
            except OtlpError as exc:
                result.add_problem(None, exc.field, str(exc))
                continue
            for li, leaf in enumerate(leaves):
                yield f"{spath}.{inner}[{li}]", res_attrs, leaf


def _level(record: dict[str, Any]) -> Level:
    number = record.get("severityNumber")
    if isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= 24:
        return _SEVERITY_BANDS[(number - 1) // 4]
    text = record.get("severityText")
    return parse_level(text) if isinstance(text, str) else Level.UNKNOWN


def _log_record(record: Any, path: str, res_attrs: dict[str, str], received_at: datetime,
                source: str) -> LogRecord:
    if not isinstance(record, dict):
        raise OtlpError(path, f"log record must be an object, got {kind_of(record)}")
    ts = (unix_nanos(record.get("timeUnixNano"), f"{path}.timeUnixNano")
          or unix_nanos(record.get("observedTimeUnixNano"), f"{path}.observedTimeUnixNano")
          or received_at)
    try:
        body = any_value(record.get("body"))
    except (ValueError, TypeError, AttributeError, OverflowError):
        raise OtlpError(f"{path}.body", "malformed AnyValue") from None
    attrs = attributes(record.get("attributes"), f"{path}.attributes")
    for key in ("traceId", "spanId"):
        value = record.get(key)
        if isinstance(value, str) and value and len(attrs) < MAX_ATTRIBUTES:
            attrs.setdefault(key[:-2] + "_id", value[:64])
    for key, value in res_attrs.items():
        if len(attrs) >= MAX_ATTRIBUTES:
            break
        attrs.setdefault(key, value)
    message = "" if body is None else as_text(body)
    try:
        return LogRecord(ts=ts, message=message, source=source,
                         entity=res_attrs.get("service.name", "")[:256],
                         level=_level(record), attributes=attrs)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "body" if error["loc"][:1] == ("message",) else "$"
        raise OtlpError(f"{path}.{where}", clean_message(error["msg"])) from None


def parse_otlp_logs(doc: Any, received_at: datetime, *, source: str = "otlp",
                    max_items: int = MAX_ITEMS) -> BatchResult[LogRecord]:
    """One LogRecord per ``resourceLogs[].scopeLogs[].logRecords[]`` entry.

    ``service.name`` gives the entity; ``severityNumber`` (else ``severityText``) the
    level; the body as text (non-string bodies as compact JSON); ``timeUnixNano``, else
    ``observedTimeUnixNano``, else ``received_at``. The record's attributes, then
    ``trace_id``/``span_id``, then the resource attributes make the attributes (64 at most).
    """
    received = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    result: BatchResult[LogRecord] = BatchResult()
    walk = _walk(doc, "resourceLogs", "scopeLogs", "logRecords", result)
    for ordinal, (path, res_attrs, record) in enumerate(walk):
        if ordinal >= max_items:
            raise PayloadTooLarge(f"more than {max_items} log records", limit=max_items)
        try:
            result.items.append(_log_record(record, path, res_attrs, received, source))
        except OtlpError as exc:
            result.add_problem(ordinal, exc.field, str(exc))
    return result


def _format_number(value: float) -> str:
    """Bucket bounds and quantiles as label text: ``5``, ``0.25``, ``+Inf``."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or value is None:
        raise OtlpError(path, "expected a number")
    if isinstance(value, str):
        special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
        if value in special:
            return special[value]
        if not value.isascii() or "_" in value:
            raise OtlpError(path, f"invalid number {value[:40]!r}")
    try:
        return float(value)
    except (ValueError, TypeError, OverflowError):
        raise OtlpError(path, f"invalid number {str(value)[:40]!r}") from None


class _MetricPoints:
    """Turns one data point of one metric into samples."""

    def __init__(self, name: str, path: str, labels: dict[str, str], ts: datetime) -> None:
        self.name, self.path, self.labels, self.ts = name, path, labels, ts
        self.samples: list[MetricSample] = []

    def add(self, suffix: str, value: float, extra: dict[str, str] | None = None) -> None:
        labels = {**self.labels, **extra} if extra else self.labels
        try:
            self.samples.append(MetricSample(name=self.name + suffix, labels=labels,
                                             value=value, ts=self.ts))
        except ValidationError as exc:
            error = exc.errors()[0]
            raise OtlpError(self.path, clean_message(error["msg"])) from None

    def number(self, point: dict[str, Any]) -> None:
        flags = point.get("flags")
        if isinstance(flags, int) and flags & 1:  # FLAG_NO_RECORDED_VALUE: a gap, kept as NaN
            self.add("", math.nan)
        elif "asDouble" in point:
            self.add("", _number(point["asDouble"], f"{self.path}.asDouble"))
        elif "asInt" in point:
            self.add("", _number(point["asInt"], f"{self.path}.asInt"))
        else:
            raise OtlpError(self.path, "data point has neither asDouble nor asInt")

    def histogram(self, point: dict[str, Any]) -> None:
        counts = point.get("bucketCounts") or []
        bounds = point.get("explicitBounds") or []
        if not isinstance(counts, list) or not isinstance(bounds, list):
            raise OtlpError(self.path, "bucketCounts and explicitBounds must be arrays")
        if counts and len(counts) != len(bounds) + 1:
            raise OtlpError(f"{self.path}.bucketCounts",
                            "bucketCounts must have one more entry than explicitBounds")
        total = _number(point.get("count", 0), f"{self.path}.count")
        # OTLP counts each bucket alone; the le buckets of Prometheus are cumulative.
        running = 0.0
        for i, bound in enumerate(bounds if counts else []):
            running += _number(counts[i], f"{self.path}.bucketCounts[{i}]")
            le = _number(bound, f"{self.path}.explicitBounds[{i}]")
            self.add("_bucket", running, {"le": _format_number(le)})
        if counts:
            self.add("_bucket", total, {"le": "+Inf"})
        if point.get("sum") is not None:
            self.add("_sum", _number(point["sum"], f"{self.path}.sum"))
        self.add("_count", total)

    def summary(self, point: dict[str, Any]) -> None:
        quantiles = point.get("quantileValues") or []
        if not isinstance(quantiles, list):
            raise OtlpError(f"{self.path}.quantileValues", "quantileValues must be an array")
        for i, q in enumerate(quantiles):
            qpath = f"{self.path}.quantileValues[{i}]"
            if not isinstance(q, dict):
                raise OtlpError(qpath, "must be an object")
            quantile = _number(q.get("quantile", 0), f"{qpath}.quantile")
            self.add("", _number(q.get("value", 0), f"{qpath}.value"),
                     {"quantile": _format_number(quantile)})
        if point.get("sum") is not None:
            self.add("_sum", _number(point["sum"], f"{self.path}.sum"))
        self.add("_count", _number(point.get("count", 0), f"{self.path}.count"))


_KINDS = ("gauge", "sum", "histogram", "summary", "exponentialHistogram")


def parse_otlp_metrics(doc: Any, received_at: datetime, *,
                       max_items: int = MAX_ITEMS) -> BatchResult[MetricSample]:
    """Samples from ``resourceMetrics[].scopeMetrics[].metrics[]``.

    gauge and sum points give one sample each; histogram points give cumulative
    ``<name>_bucket{le=...}`` samples ending with ``le="+Inf"``, ``<name>_sum`` (when sent)
    and ``<name>_count``; summary points give ``<name>{quantile=...}``, ``_sum`` and
    ``_count``. Labels are the point's attributes plus ``service`` from the resource's
    ``service.name`` (unless the point has a ``service`` attribute). Exponential histograms
    are reported as problems. ``index`` of a problem is the data point's ordinal.
    """
    received = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    result: BatchResult[MetricSample] = BatchResult()
    ordinal = 0
    for path, res_attrs, metric in _walk(doc, "resourceMetrics", "scopeMetrics", "metrics",
                                         result):
        for point_path, kind, point in _points(metric, path, result):
            if len(result.items) >= max_items:
                raise PayloadTooLarge(f"more than {max_items} samples", limit=max_items)
            try:
                result.items.extend(_samples(metric["name"], kind, point, point_path,
                                             res_attrs, received))
            except OtlpError as exc:
                result.add_problem(ordinal, exc.field, str(exc))
            ordinal += 1
    return result


def _points(metric: Any, path: str, result: BatchResult[MetricSample],
            ) -> Iterator[tuple[str, str, Any]]:
    if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
        result.add_problem(None, path, "metric must be an object with a name")
        return
    kinds = [k for k in _KINDS if isinstance(metric.get(k), dict)]
    if len(kinds) != 1:
        result.add_problem(None, path, "metric must have exactly one of " + ", ".join(_KINDS))
        return
    kind = kinds[0]
    if kind == "exponentialHistogram":
        result.add_problem(None, f"{path}.{kind}", "exponential histograms are not supported")
        return
    try:
        points = _list(metric[kind], "dataPoints", f"{path}.{kind}")
    except OtlpError as exc:
        result.add_problem(None, exc.field, str(exc))
        return
    for i, point in enumerate(points):
        yield f"{path}.{kind}.dataPoints[{i}]", kind, point


def _samples(name: str, kind: str, point: Any, path: str, res_attrs: dict[str, str],
             received: datetime) -> list[MetricSample]:
    if not isinstance(point, dict):
        raise OtlpError(path, f"data point must be an object, got {kind_of(point)}")
    labels = attributes(point.get("attributes"), f"{path}.attributes")
    service = res_attrs.get("service.name")
    if service and "service" not in labels and len(labels) < MAX_ATTRIBUTES:
        labels["service"] = service
    ts = unix_nanos(point.get("timeUnixNano"), f"{path}.timeUnixNano") or received
    points = _MetricPoints(name, path, labels, ts)
    if kind in ("gauge", "sum"):
        points.number(point)
    elif kind == "histogram":
        points.histogram(point)
    else:
        points.summary(point)
    return points.samples
