"""Pages. They carry no data themselves: the browser reads the REST API with the
token the operator gives it (kept in the browser's local storage, never in a cookie).

``/`` is the overview (business and operations views), ``/events`` the live event view,
``/incidents`` the incident list, ``/incidents/{id}`` one incident with its
root-cause graph and evidence charts, and ``/report`` the operations report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from opscope import __version__
from opscope.model.metrics import ENTITY_LABELS

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(HERE / "static"))


def _page(request: Request, name: str, page: str, **extra: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {
        "version": __version__, "page": page, **extra})


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> HTMLResponse:
    return _page(request, "overview.html", "overview")


@router.get("/events", response_class=HTMLResponse)
async def event_view(request: Request) -> HTMLResponse:
    return _page(request, "events.html", "events")


@router.get("/report", response_class=HTMLResponse)
async def report_page(request: Request) -> HTMLResponse:
    return _page(request, "report.html", "report")


@router.get("/incidents", response_class=HTMLResponse)
async def incident_list(request: Request) -> HTMLResponse:
    return _page(request, "incidents.html", "incidents")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(request: Request, incident_id: str) -> HTMLResponse:
    # The id only reaches the page as data for its script, which fetches the incident.
    # The labels a series' entity is read from let the page find an entity's series.
    return _page(request, "incident.html", "incidents", incident_id=incident_id,
                 entity_labels=json.dumps(list(ENTITY_LABELS)))
