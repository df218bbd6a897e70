"""Incidents and silences over the API.

Reads (scope ``read``) come from the store: the incident list with filters and cursor
paging, and one incident with its members (muted ones included, each with why), its
timeline, its latest root-cause ranking (hypotheses with score, evidence and reason) and
the operator actions taken on it.

Changes (scope ``ingest``; ``admin`` tokens may do everything) are operator actions —
acknowledge, resolve, merge, split — and silences. They are handed to the incident
stage's own thread (the correlation engine is driven from one thread only) and answered
once applied and stored; merges and splits are also kept as feedback that learned
correlation uses. The actor recorded is the body's ``actor`` or else the token's name.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from opscope.analyze.correlate.stage import IncidentStage
from opscope.errors import NotFound, Overloaded, ValidationFailed
from opscope.model.incident import Matcher, Silence
from opscope.present.api.deps import actor_of, require, services_of
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services
from opscope.store.ports import IncidentQuery, TimeRange

router = APIRouter(prefix="/api/v1", tags=["incidents"])
READ = [Depends(require("read"))]
CHANGE = [Depends(require("ingest"))]
ACTION_TIMEOUT_S = 30.0


def _stage(services: Services) -> IncidentStage:
    stage = services.extras.get("incidents")
    if not isinstance(stage, IncidentStage):
        if services.settings.role == "web":
            raise Overloaded("incident actions are served by the core process; this is a "
                             "read-only web replica", 60.0)
        raise Overloaded("incident correlation is not enabled on this server", 60.0)
    return stage


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field("", max_length=256, description="Who acts; default: the token's name.")


class MergeRequest(Action):
    target: str = Field(min_length=1, max_length=256, description="Incident that remains.")
    sources: list[str] = Field(min_length=1, max_length=100,
                               description="Incidents folded into the target.")


class SplitRequest(Action):
    signal_ids: list[str] = Field(min_length=1, max_length=10_000,
                                  description="Members that move to a new incident.")


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[Matcher] = Field(min_length=1, description="All must match.")
    starts_at: datetime | None = Field(None, description="Default: now.")
    ends_at: datetime | None = Field(None, description="Give this or duration_minutes.")
    duration_minutes: float | None = Field(None, gt=0, le=366 * 24 * 60)
    created_by: str = Field("", max_length=256, description="Default: the token's name.")
    comment: str = Field("", max_length=2048)


@router.get("/incidents", summary="List incidents, newest first", dependencies=READ)
async def list_incidents(
    status: str | None = Query(None, pattern="^(open|resolved|merged)$"),
    severity: list[str] = Query([], description="Repeatable: critical, error, warning, info."),
    entity: str | None = Query(None, max_length=256, description="An affected entity."),
    start: datetime | None = Query(None, description="Opened at or after (ISO 8601)."),
    end: datetime | None = Query(None, description="Opened before (ISO 8601)."),
    limit: int = Query(50, ge=1, le=1000), cursor: str | None = Query(None, max_length=512),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    query = IncidentQuery(TimeRange(start, end), status, tuple(severity), entity, limit,
                          cursor)
    page = await run_in_threadpool(services.store.query_incidents, query)
    return JSONAnswer({"items": page.items, "next_cursor": page.next_cursor})


@router.get("/incidents/{incident_id}", dependencies=READ,
            summary="One incident: members, timeline, root-cause hypotheses, actions")
async def get_incident(incident_id: str,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    """The incident with its first 1,000 members to join and first 1,000 timeline entries;
    ``member_total`` and ``timeline_total`` say how many there are in all, and the
    ``/members`` and ``/timeline`` sub-resources page through every one."""
    row = await run_in_threadpool(services.store.get_incident, incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return JSONAnswer(row)


async def _page_of(services: Services, incident_id: str, read: Any, limit: int,
                   cursor: str | None) -> JSONAnswer:
    page = await run_in_threadpool(read, incident_id, limit, cursor)
    # Only an empty page needs the incident looked up: an unknown id is a 404.
    if not page.items and await run_in_threadpool(
            services.store.get_incident, incident_id, 0, 0) is None:
        raise NotFound(f"no incident {incident_id}")
    return JSONAnswer({"items": page.items, "next_cursor": page.next_cursor})


@router.get("/incidents/{incident_id}/members", dependencies=READ,
            summary="An incident's members, latest to join first (paged)")
async def list_members(incident_id: str, limit: int = Query(200, ge=1, le=1000),
                       cursor: str | None = Query(None, max_length=512),
                       services: Services = Depends(services_of)) -> JSONAnswer:
    return await _page_of(services, incident_id, services.store.query_incident_members,
                          limit, cursor)


@router.get("/incidents/{incident_id}/timeline", dependencies=READ,
            summary="An incident's timeline, latest first (paged)")
async def list_timeline(incident_id: str, limit: int = Query(200, ge=1, le=1000),
                        cursor: str | None = Query(None, max_length=512),
                        services: Services = Depends(services_of)) -> JSONAnswer:
    return await _page_of(services, incident_id, services.store.query_incident_timeline,
                          limit, cursor)


async def _act(services: Services, fn: Any, *args: Any) -> JSONAnswer:
    incident = await run_in_threadpool(fn, *args)
    return JSONAnswer({"incident": incident.model_dump(mode="json")})


@router.post("/incidents/merge", dependencies=CHANGE,
             summary="Fold incidents into one (kept as feedback for learned correlation)")
async def merge_incidents(body: MergeRequest, request: Request,
                          services: Services = Depends(services_of)) -> JSONAnswer:
    stage = _stage(services)
    return await _act(services, stage.merge, body.target, body.sources,
                      actor_of(request, body.actor))


@router.post("/incidents/{incident_id}/ack", dependencies=CHANGE,
             summary="Acknowledge an incident")
async def ack_incident(incident_id: str, request: Request, body: Action | None = None,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    actor = actor_of(request, body.actor if body else "")
    return await _act(services, _stage(services).acknowledge, incident_id, actor)


@router.post("/incidents/{incident_id}/resolve", dependencies=CHANGE,
             summary="Resolve an open incident now")
async def resolve_incident(incident_id: str, request: Request, body: Action | None = None,
                           services: Services = Depends(services_of)) -> JSONAnswer:
    actor = actor_of(request, body.actor if body else "")
    return await _act(services, _stage(services).resolve, incident_id, actor)


@router.post("/incidents/{incident_id}/split", dependencies=CHANGE,
             summary="Move members into a new incident (kept as feedback)")
async def split_incident(incident_id: str, body: SplitRequest, request: Request,
                         services: Services = Depends(services_of)) -> JSONAnswer:
    stage = _stage(services)
    return await _act(services, stage.split, incident_id, body.signal_ids,
                      actor_of(request, body.actor))


@router.get("/silences", summary="List silences, latest ending first", dependencies=READ)
async def list_silences(
    active: bool = Query(False, description="Only silences active now (event time)."),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    at = None
    if active:
        stage = services.extras.get("incidents")
        at = await run_in_threadpool(stage.now) if isinstance(stage, IncidentStage) \
            else datetime.now(UTC)
    rows = await run_in_threadpool(services.store.list_silences, at)
    return JSONAnswer({"items": [s.model_dump(mode="json") for s in rows]})


@router.get("/silences/{silence_id}", summary="One silence", dependencies=READ)
async def get_silence(silence_id: str, services: Services = Depends(services_of)) -> JSONAnswer:
    found = await run_in_threadpool(services.store.get_silence, silence_id)
    if found is None:
        raise NotFound(f"no silence {silence_id}")
    return JSONAnswer(found.model_dump(mode="json"))


@router.post("/silences", dependencies=CHANGE,
             summary="Create a silence: matching signals are muted (kept, marked)")
async def post_silence(body: SilenceRequest, request: Request,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    stage = _stage(services)
    starts: datetime = body.starts_at if body.starts_at else await run_in_threadpool(stage.now)
    if body.ends_at is None and body.duration_minutes is None:
        raise ValidationFailed("give ends_at or duration_minutes", [
            {"index": None, "field": "ends_at", "message": "missing"}])
    ends = body.ends_at or starts + timedelta(minutes=body.duration_minutes or 0.0)
    try:
        silence = Silence(id=f"sil-{secrets.token_hex(6)}", matchers=body.matchers,
                          starts_at=starts, ends_at=ends,
                          created_by=actor_of(request, body.created_by), comment=body.comment)
    except ValueError as exc:
        raise ValidationFailed(f"invalid silence: {exc}", [
            {"index": None, "field": "ends_at", "message": "must be after starts_at"}]) from None
    created = await run_in_threadpool(stage.add_silence, silence)
    return JSONAnswer(created.model_dump(mode="json"), status_code=201)


class SilenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[Matcher] | None = Field(None, min_length=1,
                                           description="New matchers; default: unchanged.")
    starts_at: datetime | None = Field(None, description="Default: unchanged.")
    ends_at: datetime | None = Field(None, description="Default: unchanged (or from "
                                     "duration_minutes).")
    duration_minutes: float | None = Field(None, gt=0, le=366 * 24 * 60,
                                           description="New length from starts_at.")
    comment: str | None = Field(None, max_length=2048, description="Default: unchanged.")


@router.put("/silences/{silence_id}", dependencies=CHANGE,
            summary="Change a silence: its matchers, times or comment (e.g. extend it)")
async def put_silence(silence_id: str, body: SilenceUpdate,
                      services: Services = Depends(services_of)) -> JSONAnswer:
    found = await run_in_threadpool(services.store.get_silence, silence_id)
    if found is None:
        raise NotFound(f"no silence {silence_id}")
    starts = body.starts_at or found.starts_at
    ends = body.ends_at or (starts + timedelta(minutes=body.duration_minutes)
                            if body.duration_minutes else found.ends_at)
    try:
        silence = Silence(id=found.id, matchers=body.matchers or found.matchers,
                          starts_at=starts, ends_at=ends, created_by=found.created_by,
                          comment=found.comment if body.comment is None else body.comment)
    except ValueError as exc:
        raise ValidationFailed(f"invalid silence: {exc}", [
            {"index": None, "field": "ends_at", "message": "must be after starts_at"}]) from None
    changed = await run_in_threadpool(_stage(services).add_silence, silence)
    return JSONAnswer(changed.model_dump(mode="json"))


@router.delete("/silences/{silence_id}", dependencies=CHANGE,
               summary="Expire a silence now (it stays listed, ended)")
async def delete_silence(silence_id: str,
                         services: Services = Depends(services_of)) -> JSONAnswer:
    expired = await run_in_threadpool(_stage(services).expire_silence, silence_id)
    return JSONAnswer(expired.model_dump(mode="json"))
