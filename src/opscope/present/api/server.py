"""Assemble the FastAPI application from the services."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from opscope import __version__
from opscope.present.api import (
    admin,
    incidents,
    ingest,
    nlp,
    overview,
    patterns,
    reactions,
    read,
    reports,
    templates,
    verdicts,
    webhooks,
)
from opscope.present.api.errors import install_error_handlers
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services

DESCRIPTION = """\
opscope's REST API. Send alerts, logs, metrics, tickets, changes and topology; read them
back with filters and cursor paging. Every endpoint but `/healthz` and `/metrics` needs
`Authorization: Bearer <token>` with the scope it names (`ingest`, `read`, `admin`).
Writes answer 2xx only after the batch is committed. By default a batch with a bad item
is rejected whole (422, naming each bad item by index and field); `?partial=true` keeps
the valid items. Overload answers 429 or 503 with `Retry-After`.
"""


def create_api(services: Services, *, ingest_only: bool = False) -> FastAPI:
    """The API and dashboard; with ``ingest_only`` (role ``ingest``), only what receives
    data, plus health and metrics."""
    api = FastAPI(title="opscope", version=__version__, description=DESCRIPTION,
                  default_response_class=JSONAnswer)
    api.state.services = services
    install_error_handlers(api)

    @api.middleware("http")
    async def measure(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        services.telemetry.observe_request(path, response.status_code,
                                           time.perf_counter() - started)
        return response

    @api.get("/healthz", tags=["meta"], summary="Liveness: answers when the server runs")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @api.get("/metrics", tags=["meta"], summary="opscope's own metrics, Prometheus format",
             response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(services.telemetry.render(),
                                 media_type="text/plain; version=0.0.4")

    api.include_router(ingest.router)
    api.include_router(ingest.otlp_router)
    api.include_router(webhooks.router)
    if ingest_only:
        return api
    api.include_router(read.router)
    api.include_router(verdicts.router)
    api.include_router(templates.router)
    api.include_router(incidents.router)
    api.include_router(patterns.router)
    api.include_router(nlp.router)
    api.include_router(reactions.router)
    api.include_router(admin.router)
    api.include_router(overview.router)
    api.include_router(reports.router)
    from opscope.present.web import routes as web

    api.include_router(web.router)
    api.mount("/static", web.static_files(), name="static")
    return api
