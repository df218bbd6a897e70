"""``GET /api/v1/reports/operations``: the operations report of a time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from opscope.errors import ValidationFailed
from opscope.present.api.deps import require, services_of
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services
from opscope.present.reports.operations import build_report, render_markdown

router = APIRouter(prefix="/api/v1/reports", tags=["reports"],
                   dependencies=[Depends(require("read"))])


@router.get("/operations", summary="Incidents, alerts, anomalies and reactions of a window")
async def operations_report(
    start: datetime | None = Query(None, description="Window start (ISO 8601); default: "
                                   "seven days before the end."),
    end: datetime | None = Query(None, description="Window end (ISO 8601); default: now."),
    format: Literal["json", "markdown"] = Query("json", description="json or markdown."),
    services: Services = Depends(services_of),
) -> Response:
    until = end or datetime.now(UTC)
    until = until if until.tzinfo else until.replace(tzinfo=UTC)
    since = start or until - timedelta(days=7)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    if since >= until:
        raise ValidationFailed("start must be before end",
                               [{"index": None, "field": "start", "message": "after end"}])
    report = await run_in_threadpool(build_report, services.store, since, until)
    if format == "markdown":
        return Response(render_markdown(report), media_type="text/markdown; charset=utf-8")
    return JSONAnswer(report)
