"""Read endpoints: every kind with filters and cursor paging (newest first)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from opscope.errors import NotFound, ValidationFailed
from opscope.present.api.deps import require, services_of
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services
from opscope.store.ports import (
    EventQuery,
    LabelMatcher,
    LogQuery,
    Page,
    RecordQuery,
    SeriesQuery,
    TimeRange,
)

router = APIRouter(prefix="/api/v1", tags=["read"], dependencies=[Depends(require("read"))])

START = Query(None, description="Inclusive start, ISO 8601 or unix seconds.")
END = Query(None, description="Exclusive end, ISO 8601 or unix seconds.")
LIMIT = Query(100, ge=1, le=1000, description="Page size.")
CURSOR = Query(None, max_length=512, description="next_cursor of the previous page.")
MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=~|!~|!=|=)\s*\"?(.*?)\"?\s*$")


def parse_matchers(raw: list[str], field: str) -> list[LabelMatcher]:
    """``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``."""
    result = []
    for i, text in enumerate(raw):
        match = MATCHER.match(text)
        if match is None:
            raise ValidationFailed(f"bad {field} matcher {text!r}", [
                {"index": i, "field": field,
                 "message": "use name=value, name!=value, name=~regex or name!~regex"}])
        name, op, value = match.groups()
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValidationFailed(f"bad regex in {field} matcher: {exc}", [
                    {"index": i, "field": field, "message": str(exc)}]) from None
        result.append(LabelMatcher(name, op, value))
    return result


def _page(page: Page) -> JSONAnswer:
    return JSONAnswer({"items": page.items, "next_cursor": page.next_cursor})


def _range(start: datetime | None, end: datetime | None) -> TimeRange:
    if start and end and end <= start:
        raise ValidationFailed("end must be after start",
                               [{"index": None, "field": "end", "message": "before start"}])
    return TimeRange(start, end)


@router.get("/events", summary="List events, newest first")
async def list_events(
    start: datetime | None = START, end: datetime | None = END,
    entity: str | None = None, source: str | None = None,
    status: str | None = Query(None, pattern="^(firing|resolved)$"),
    severity: list[str] = Query([], description="Repeatable: critical, error, warning, info."),
    label: list[str] = Query([], description="Repeatable label matcher, e.g. team=shop."),
    q: str | None = Query(None, max_length=256, description="Text search."),
    limit: int = LIMIT, cursor: str | None = CURSOR,
    services: Services = Depends(services_of),
) -> JSONAnswer:
    query = EventQuery(_range(start, end), entity, source, status, tuple(severity),
                       tuple(parse_matchers(label, "label")), q, limit, cursor)
    return _page(await run_in_threadpool(services.store.query_events, query))


@router.get("/events/{source}/{fingerprint}", summary="One event by identity")
async def get_event(source: str, fingerprint: str,
                    services: Services = Depends(services_of)) -> JSONAnswer:
    row = await run_in_threadpool(services.store.get_event, source, fingerprint)
    if row is None:
        raise NotFound(f"no event {source}/{fingerprint}")
    return JSONAnswer(row)


@router.get("/events/{source}/{fingerprint}/history",
            summary="Every notification received for one event, newest first")
async def get_event_history(source: str, fingerprint: str, limit: int = LIMIT,
                            cursor: str | None = CURSOR,
                            services: Services = Depends(services_of)) -> JSONAnswer:
    page = await run_in_threadpool(services.store.event_history, source, fingerprint, limit,
                                   cursor)
    return _page(page)


@router.get("/logs", summary="List log records, newest first")
async def list_logs(
    start: datetime | None = START, end: datetime | None = END,
    entity: str | None = None, source: str | None = None,
    level: list[str] = Query([], description="Repeatable: fatal, error, warning, info, debug."),
    q: str | None = Query(None, max_length=256, description="Case-insensitive substring."),
    template_id: str | None = None,
    limit: int = LIMIT, cursor: str | None = CURSOR,
    services: Services = Depends(services_of),
) -> JSONAnswer:
    query = LogQuery(_range(start, end), entity, source, tuple(level), q, template_id,
                     limit, cursor)
    return _page(await run_in_threadpool(services.store.query_logs, query))


@router.get("/metrics/series", summary="Values of matching series, optionally bucketed")
async def get_series(
    name: str = Query(..., min_length=1, max_length=256),
    match: list[str] = Query([], description="Repeatable label matcher."),
    start: datetime | None = START, end: datetime | None = END,
    step: float | None = Query(None, gt=0, description="Bucket width in seconds."),
    agg: str = Query("avg", pattern="^(avg|min|max|sum|last)$"),
    max_series: int = Query(100, ge=1, le=1000),
    band: bool = Query(False, description="Add each series' expected band "
                       "([[ts_ms, expected, lower, upper], ...], bucketed by step like the "
                       "points) and its anomalies ([[ts_ms, score, direction], ...])."),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    query = SeriesQuery(name, tuple(parse_matchers(match, "match")), _range(start, end),
                        step, agg, max_series)
    rows = await run_in_threadpool(services.store.query_series, query)
    if band:
        await run_in_threadpool(_add_bands, services, rows, query)
    return JSONAnswer({"series": rows})


def _add_bands(services: Services, rows: list[dict[str, Any]], query: SeriesQuery) -> None:
    ids = [row["series_id"] for row in rows]
    bands = services.store.query_bands(ids, query.time, query.step_seconds)
    marks = services.store.anomaly_marks(ids, query.time)
    for row in rows:
        row["band"] = bands.get(row["series_id"], [])
        row["anomalies"] = marks.get(row["series_id"], [])


@router.get("/metrics/names", summary="List series by name and matchers")
async def list_series(
    name: str | None = None, match: list[str] = Query([]),
    limit: int = Query(1000, ge=1, le=10_000),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    rows = await run_in_threadpool(services.store.list_series, name,
                                   parse_matchers(match, "match"), limit)
    return JSONAnswer({"series": rows})


def _record_query(start: datetime | None, end: datetime | None, entity: str | None,
                  kind: str | None, q: str | None, limit: int, cursor: str | None
                  ) -> RecordQuery:
    return RecordQuery(_range(start, end), entity, kind, q, limit, cursor)


def _record_route(path: str, method: str, summary: str, kind_help: str) -> None:
    async def handler(
        start: datetime | None = START, end: datetime | None = END,
        entity: str | None = None,
        kind: str | None = Query(None, max_length=64, description=kind_help),
        q: str | None = Query(None, max_length=256, description="Text search."),
        limit: int = LIMIT, cursor: str | None = CURSOR,
        services: Services = Depends(services_of),
    ) -> JSONAnswer:
        query = _record_query(start, end, entity, kind, q, limit, cursor)
        fetch: Any = getattr(services.store, method)
        return _page(await run_in_threadpool(fetch, query))

    router.add_api_route(path, handler, methods=["GET"], summary=summary)


_record_route("/tickets", "query_tickets", "List tickets, newest first", "Ticket status.")
_record_route("/changes", "query_changes", "List change records, newest first",
              "Change kind, e.g. deploy.")
_record_route("/anomalies", "query_anomalies", "List anomalies, newest first",
              "Anomaly kind, e.g. metric.")


@router.get("/topology", summary="Entities and relations")
async def get_topology(services: Services = Depends(services_of)) -> JSONAnswer:
    entities, relations = await run_in_threadpool(services.store.topology)
    return JSONAnswer({"entities": entities, "relations": relations})
