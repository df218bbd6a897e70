"""Pages. They carry no data themselves: the browser reads the REST API with the
token the operator gives it (kept in the browser's local storage, never in a cookie)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from opscope import __version__

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(HERE / "static"))


@router.get("/", response_class=HTMLResponse)
async def event_view(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "events.html", {"version": __version__})


@router.get("/incidents", response_class=HTMLResponse)
async def incident_list(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "incidents.html", {"version": __version__})


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(request: Request, incident_id: str) -> HTMLResponse:
    # The id only reaches the page as data for its script, which fetches the incident.
    return templates.TemplateResponse(request, "incident.html", {
        "version": __version__, "incident_id": incident_id})
