"""Write endpoints. Every one is batch-capable and answers 2xx only after commit.

Batch policy: by default a batch with any bad item is **rejected whole** (422, nothing
stored) and the answer lists every bad item by index and field. With ``?partial=true``
the valid items are committed and the bad ones are listed under ``rejected``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from opscope.collect import (
    alertmanager,
    grafana,
    logs,
    otlp,
    otlp_proto,
    prometheus,
    remote_write,
    topology,
)
from opscope.collect.batch import BatchResult, validate_items, validate_json_items
from opscope.collect.body import decode_json, decode_ndjson, decode_text
from opscope.errors import Overloaded, UnsupportedMediaType, ValidationFailed
from opscope.model import Change, Event, LogRecord, MetricSample, Ticket
from opscope.present.api.body import media_type, read_body
from opscope.present.api.deps import require, services_of
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services

router = APIRouter(prefix="/api/v1", tags=["ingest"], dependencies=[Depends(require("ingest"))])
otlp_router = APIRouter(prefix="/otlp/v1", tags=["ingest"],
                        dependencies=[Depends(require("ingest"))])

PARTIAL = Query(False, description="Commit the valid items of a batch with bad items, "
                "instead of rejecting the whole batch.")

JSON_TYPES = ("application/json", "")
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines",
                "application/ndjson")
TEXT_TYPES = ("text/plain",)


def _now() -> datetime:
    return datetime.now(UTC)


async def commit_batch(services: Services, kind: str, result: BatchResult[Any],
                  partial: bool, extra: dict[str, Any] | None = None) -> JSONAnswer:
    telemetry = services.telemetry
    problems = [p.as_dict() for p in result.problems]
    bad_items = result.bad_items
    if problems and not partial:
        telemetry.count(telemetry.rejected, bad_items, kind=kind)
        raise ValidationFailed(
            f"{len(problems)} of the {kind} in this batch are invalid; nothing was stored "
            "(send ?partial=true to keep the valid ones)", problems)
    try:
        receipt = await run_in_threadpool(services.ingestor.ingest, kind, result.items)
    except Overloaded:
        telemetry.count(telemetry.overloaded, kind=kind)
        raise
    telemetry.count(telemetry.ingested, receipt.accepted, kind=kind)
    if problems:
        telemetry.count(telemetry.rejected, bad_items, kind=kind)
    return JSONAnswer({
        "accepted": receipt.accepted, "inserted": receipt.inserted,
        "updated": receipt.updated, "rejected": problems, **(extra or {}),
    })


async def _json_items(request: Request, services: Services) -> Any:
    kind, _ = media_type(request)
    body = await read_body(request, services.settings.limits.max_body_bytes)
    if kind in NDJSON_TYPES:
        return decode_ndjson(body)
    if kind not in JSON_TYPES and not kind.endswith("+json"):
        raise UnsupportedMediaType(f"send application/json (got {kind!r})")
    doc = decode_json(body)
    return [doc] if isinstance(doc, dict) else doc


async def _json_batch(request: Request, services: Services, model: type[Any]
                      ) -> BatchResult[Any]:
    """A JSON array validated straight from the body bytes (NDJSON takes the slow path)."""
    kind, _ = media_type(request)
    limit = services.settings.limits.max_batch_items
    if kind in JSON_TYPES:
        body = await read_body(request, services.settings.limits.max_body_bytes)
        if body.lstrip()[:1] == b"[":
            return validate_json_items(model, body, max_items=limit)
        doc = decode_json(body)
        return validate_items(model, [doc] if isinstance(doc, dict) else doc, max_items=limit)
    return validate_items(model, await _json_items(request, services), max_items=limit)


@router.post("/events", summary="Ingest events/alerts (JSON array or NDJSON)")
async def post_events(request: Request, partial: bool = PARTIAL,
                      services: Services = Depends(services_of)) -> JSONAnswer:
    return await commit_batch(services, "events", await _json_batch(request, services, Event),
                         partial)


@router.post("/alertmanager", summary="Prometheus Alertmanager webhook (version 4)")
async def post_alertmanager(
    request: Request, partial: bool = PARTIAL,
    source: str = Query("alertmanager", max_length=256, description="Source name to record."),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    doc = decode_json(await read_body(request, services.settings.limits.max_body_bytes))
    result = alertmanager.parse_alertmanager(doc, _now(), source=source)
    return await commit_batch(services, "events", result, partial)


@router.post("/grafana", summary="Grafana alerting webhook")
async def post_grafana(request: Request, partial: bool = PARTIAL,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    doc = decode_json(await read_body(request, services.settings.limits.max_body_bytes))
    return await commit_batch(services, "events", grafana.parse_grafana(doc, _now()), partial)


@router.post("/logs", summary="Ingest logs: JSON array, NDJSON, or text/plain lines")
async def post_logs(
    request: Request, partial: bool = PARTIAL,
    source: str = Query("", max_length=256, description="Source of text/plain lines."),
    entity: str = Query("", max_length=256, description="Entity of text/plain lines."),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    limits = services.settings.limits
    kind, charset = media_type(request)
    if kind in TEXT_TYPES:
        body = await read_body(request, limits.max_body_bytes)
        text = decode_text(body, charset)
        result = logs.parse_log_lines(text, _now(), source or "http", entity,
                                      max_lines=limits.max_batch_items)
    elif source or entity:
        items = await _json_items(request, services)
        defaults = {k: v for k, v in (("source", source), ("entity", entity)) if v}
        result = validate_items(LogRecord, items, max_items=limits.max_batch_items,
                                defaults=defaults)
    else:
        result = await _json_batch(request, services, LogRecord)
    return await commit_batch(services, "logs", result, partial)


@router.post("/metrics", summary="Ingest metric samples (JSON array or NDJSON)")
async def post_metrics(request: Request, partial: bool = PARTIAL,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    return await commit_batch(services, "metrics",
                         await _json_batch(request, services, MetricSample), partial)


@router.post("/metrics/prometheus",
             summary="Ingest Prometheus text exposition format (all metric types)")
async def post_prometheus(
    request: Request, partial: bool = PARTIAL,
    job: str = Query("", max_length=256, description="Adds a job label to every sample."),
    instance: str = Query("", max_length=256, description="Adds an instance label."),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    limits = services.settings.limits
    _, charset = media_type(request)
    text = decode_text(await read_body(request, limits.max_body_bytes), charset)
    extra = {k: v for k, v in (("job", job), ("instance", instance)) if v}
    result = prometheus.parse_exposition(text, _now(), extra, max_samples=limits.max_batch_items)
    return await commit_batch(services, "metrics", result, partial)


@router.post("/metrics/remote-write",
             summary="Prometheus remote write 1.0 (snappy-compressed protobuf)")
async def post_remote_write(request: Request, partial: bool = PARTIAL,
                            services: Services = Depends(services_of)) -> JSONAnswer:
    limits = services.settings.limits
    kind, _ = media_type(request)
    if kind != "application/x-protobuf":
        raise UnsupportedMediaType(
            f"send application/x-protobuf with Content-Encoding: snappy (got {kind!r})")
    data = await read_body(request, limits.max_body_bytes)
    result, skipped = remote_write.parse_write_request(data, max_samples=limits.max_batch_items)
    extra = {"skipped_native_histograms": skipped} if skipped else None
    return await commit_batch(services, "metrics", result, partial, extra)


@router.post("/tickets", summary="Ingest tickets (JSON array); upserted by id")
async def post_tickets(request: Request, partial: bool = PARTIAL,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    return await commit_batch(services, "tickets", await _json_batch(request, services, Ticket),
                         partial)


@router.post("/changes", summary="Ingest change records: deploys, config changes")
async def post_changes(request: Request, partial: bool = PARTIAL,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    return await commit_batch(services, "changes", await _json_batch(request, services, Change),
                         partial)


@router.post("/topology", summary="Load entities and relations (JSON or YAML)")
async def post_topology(request: Request,
                        services: Services = Depends(services_of)) -> JSONAnswer:
    kind, charset = media_type(request)
    body = await read_body(request, services.settings.limits.max_body_bytes)
    if kind in ("application/yaml", "application/x-yaml", "text/yaml"):
        import yaml

        try:
            doc = yaml.safe_load(decode_text(body, charset))
        except yaml.YAMLError as exc:
            raise ValidationFailed(f"body is not valid YAML: {exc}") from None
    else:
        doc = decode_json(body)
    entities, relations, problems = topology.parse_topology(doc)
    if problems:
        raise ValidationFailed("topology is invalid; nothing was stored",
                               [p.as_dict() for p in problems])
    batch: Sequence[Any] = [(entities, relations)]
    receipt = await run_in_threadpool(services.ingestor.ingest, "topology", batch)
    return JSONAnswer({"entities": len(entities), "relations": len(relations),
                           "inserted": receipt.inserted, "updated": receipt.updated})


OTLP_PARTIAL = Query(True, description="OTLP keeps the valid items of a request and reports "
                    "the rest in partialSuccess, as the OTLP specification describes; "
                    "false rejects the whole request instead.")


@otlp_router.post("/logs", summary="OTLP/HTTP logs (protobuf or JSON encoding)")
async def post_otlp_logs(request: Request, partial: bool = OTLP_PARTIAL,
                         services: Services = Depends(services_of)) -> Response:
    return await _otlp(request, services, "logs", otlp.parse_otlp_logs, partial)


@otlp_router.post("/metrics", summary="OTLP/HTTP metrics (protobuf or JSON encoding)")
async def post_otlp_metrics(request: Request, partial: bool = OTLP_PARTIAL,
                            services: Services = Depends(services_of)) -> Response:
    return await _otlp(request, services, "metrics", otlp.parse_otlp_metrics, partial)


async def _otlp(request: Request, services: Services, signal: str,
                parse: Callable[[Any, datetime], BatchResult[Any]], partial: bool) -> Response:
    """Decode either encoding, commit, and answer in the request's encoding with an
    ``Export*ServiceResponse`` (``partialSuccess`` when items were rejected)."""
    kind, _ = media_type(request)
    body = await read_body(request, services.settings.limits.max_body_bytes)
    proto = kind == "application/x-protobuf"
    if proto:
        doc = otlp_proto.decode(signal, body)
    elif kind in JSON_TYPES:
        doc = decode_json(body)
    else:
        raise UnsupportedMediaType(
            f"send application/x-protobuf or application/json (got {kind!r})")
    result = parse(doc, _now())
    await commit_batch(services, signal, result, partial)  # refuses the batch when not partial
    rejected = result.bad_items
    message = "; ".join(f"{p.field}: {p.message}" for p in result.problems[:5])
    if proto:
        return Response(otlp_proto.encode_response(signal, rejected, message),
                        media_type="application/x-protobuf")
    key = "rejectedLogRecords" if signal == "logs" else "rejectedDataPoints"
    return JSONAnswer({"partialSuccess": {key: str(rejected), "errorMessage": message}}
                      if rejected else {})
