"""Log template endpoints: which templates the logs are made of, how often, where, when.

Counts come from the template statistics that log analysis writes; they are kept per
minute of event time, so time ranges and ``bucket`` widths are read at that resolution.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from opscope.errors import NotFound
from opscope.present.api.deps import require, services_of
from opscope.present.api.read import END, START
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services
from opscope.store.ports import TemplateQuery, TimeRange

router = APIRouter(prefix="/api/v1", tags=["log templates"],
                   dependencies=[Depends(require("read"))])

ENTITY = Query(None, max_length=256,
               description="Only lines of this entity (the log's entity, else its source).")
BUCKET = Query(None, ge=60, le=366 * 86_400,
               description="Width in seconds of time buckets to count in (a multiple of 60).")


@router.get("/log-templates", summary="List log templates with their statistics")
async def list_templates(
    start: datetime | None = START, end: datetime | None = END,
    entity: str | None = ENTITY,
    q: str | None = Query(None, max_length=256, description="Substring of the template."),
    sort: str = Query("count", pattern="^(count|last_seen)$",
                      description="count or last_seen, highest first."),
    bucket: int | None = BUCKET,
    limit: int = Query(100, ge=1, le=1000, description="Templates to return."),
    offset: int = Query(0, ge=0, le=1_000_000, description="Templates to skip."),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    """Templates with lines in the range: count, first and last seen, level mix, number of
    entities and examples; with ``bucket``, also non-empty buckets ``{ts, count}``."""
    query = TemplateQuery(TimeRange(start, end), entity, q, sort, bucket, limit, offset)
    items = await run_in_threadpool(services.store.query_log_templates, query)
    return JSONAnswer({"items": items})


@router.get("/log-templates/{template_id}", summary="One log template in detail")
async def get_template(
    template_id: str,
    start: datetime | None = START, end: datetime | None = END,
    entity: str | None = ENTITY,
    bucket: int | None = BUCKET,
    services: Services = Depends(services_of),
) -> JSONAnswer:
    """Totals, level mix, counts over time (all and per entity; hourly unless ``bucket``),
    examples and the latest lines. An id merged into another template answers with it."""
    query = TemplateQuery(TimeRange(start, end), entity, bucket_seconds=bucket)
    row = await run_in_threadpool(services.store.get_log_template, template_id, query)
    if row is None:
        raise NotFound(f"no log template {template_id}")
    return JSONAnswer(row)
