"""Pattern discovery over stored history, as ``GET /api/v1/patterns``.

The same analysis as ``opscope patterns``: alert types that fire together or in sequence,
recurring incidents, periodic alerts with the silence that would cover them, and alerts
that never lead to action. It reads a bounded stretch of history (``max_events`` alerts
and ``max_incidents`` incidents since ``start``) and runs in a worker thread.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from opscope.analyze.patterns import discover
from opscope.model import Event
from opscope.model.incident import Incident, IncidentMember
from opscope.present.api.deps import require, services_of
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services
from opscope.store.ports import EventQuery, IncidentQuery, Store, TimeRange, read_pages

router = APIRouter(prefix="/api/v1", tags=["incidents"], dependencies=[Depends(require("read"))])

EVENT_FIELDS = frozenset(Event.model_fields)
INCIDENT_FIELDS = frozenset(Incident.model_fields)


def history(store: Store, start: datetime, max_events: int, max_incidents: int
            ) -> tuple[list[Event], list[Incident], dict[str, list[IncidentMember]], bool]:
    """Alerts and incidents since ``start`` (newest first, up to the caps), each incident's
    members, and whether the caps left history unread."""
    span = TimeRange(start, None)
    event_rows, more_events = read_pages(lambda limit, cursor: store.query_events(
        EventQuery(span, limit=limit, cursor=cursor)), max_events)
    incident_rows, more_incidents = read_pages(lambda limit, cursor: store.query_incidents(
        IncidentQuery(span, limit=limit, cursor=cursor)), max_incidents)
    events = [Event.model_validate({k: v for k, v in row.items() if k in EVENT_FIELDS})
              for row in event_rows]
    incidents = [Incident.model_validate({k: v for k, v in row.items()
                                          if k in INCIDENT_FIELDS}) for row in incident_rows]
    members = {inc_id: [IncidentMember.model_validate(m) for m in docs]
               for inc_id, docs in store.incident_members([i.id for i in incidents]).items()}
    return events, incidents, members, more_events or more_incidents


def patterns_since(store: Store, start: datetime, max_events: int,
                   max_incidents: int) -> dict[str, Any]:
    events, incidents, members, truncated = history(store, start, max_events, max_incidents)
    found = discover(events, incidents, members)
    return {
        "start": start.isoformat(), "alerts": len(events), "incidents": len(incidents),
        "truncated": truncated,
        **{name: [item.model_dump(mode="json") for item in items]
           for name, items in found.items()},
    }


@router.get("/patterns", summary="Patterns in alert and incident history",
            description="Alert types that fire together or in sequence (with count, "
                        "confidence and lift), recurring incidents, periodic alerts with a "
                        "suggested silence, and alerts that never lead to action, over the "
                        "history since 'start' (default: the last 7 days). 'truncated' says "
                        "whether the caps left older history unread.")
async def get_patterns(
    start: datetime | None = Query(None, description="From this time (ISO 8601); "
                                   "default 7 days ago."),
    max_events: int = Query(20_000, ge=1, le=200_000, description="Alerts read at most."),
    max_incidents: int = Query(2_000, ge=1, le=20_000, description="Incidents read at most."),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    since = start or datetime.now(UTC) - timedelta(days=7)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    found = await run_in_threadpool(patterns_since, services.store, since, max_events,
                                    max_incidents)
    return JSONAnswer(found)

