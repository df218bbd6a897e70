"""The dashboard's overview in one read, and who the caller's token is.

``GET /api/v1/overview`` (scope ``read``) answers what the overview page shows, from
reads the store answers cheaply (each bounded, so the answer stays fast on a big store):

- ``services``: the business view. User-facing services are the ones incident impact is
  computed for (the correlation ``impact_label`` / ``impact_kinds``, else the entry points
  of the call graph); each with the open incidents touching it, the worst severity and
  since when it is affected.
- ``incidents``: open incidents counted by severity, and the newest of them.
- ``alerts``: how many alerts fire now, and the noisiest among the most recent alerts
  (notifications folded into one alert plus the times it fired again).
- ``anomalies``: the newest metric and log anomalies.
- ``ingestion``: items committed and refused per kind since the server started, and the
  batches waiting in each analysis queue (a client derives rates between two reads).

``GET /api/v1/whoami`` names the token and its scopes, so that a page offers only the
actions the token may take.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from opscope.analyze.correlate.config import CorrelationConfig
from opscope.analyze.correlate.stage import IncidentStage, IncidentStageConfig
from opscope.analyze.correlate.topology import TopologyIndex
from opscope.analyze.metrics.stage import ANOMALY_KIND as METRIC_KIND
from opscope.present.api.auth import Principal
from opscope.present.api.deps import require, services_of
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services
from opscope.store.ports import EventQuery, IncidentQuery, RecordQuery, Row, read_pages

router = APIRouter(prefix="/api/v1", tags=["overview"], dependencies=[Depends(require("read"))])

SEVERITIES = ("critical", "error", "warning", "info")
MAX_OPEN_INCIDENTS = 5000
MAX_FIRING = 5000
NOISY_SCAN = 1000
ANOMALY_SCAN = 200
SHOWN = 8


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _correlation_config(services: Services) -> CorrelationConfig:
    stage = services.extras.get("incidents")
    if isinstance(stage, IncidentStage):
        return stage.config.engine.correlation
    return IncidentStageConfig.from_settings(services.settings.correlation).engine.correlation


def _user_facing(services: Services) -> tuple[list[Row], set[str]]:
    """Stored entities and the ids of the user-facing ones, as impact is computed."""
    entities, relations = services.store.topology_models()
    conf = _correlation_config(services)
    index = TopologyIndex(entities, relations, conf.max_hops, conf.impact_label,
                          conf.impact_kinds)
    rows = [{"id": e.id, "kind": e.kind, "name": e.name} for e in entities]
    return rows, index.user_facing


def _service_health(entities: list[Row], user_facing: set[str],
                    open_incidents: list[Row]) -> list[Row]:
    """Each user-facing service with the open incidents that touch it, worst first."""
    known = {e["id"]: e for e in entities}
    # An incident's impact may name a service the stored topology no longer has.
    names = user_facing | {s for i in open_incidents for s in i.get("impact") or ()}
    out = []
    for sid in names:
        touching = [i for i in open_incidents
                    if sid in (i.get("impact") or ()) or sid in (i.get("entities") or ())]
        touching.sort(key=lambda i: (_severity_rank(str(i.get("severity"))),
                                     str(i.get("opened_at"))))
        entity = known.get(sid, {"id": sid, "kind": "service", "name": ""})
        out.append({
            **entity,
            "status": "affected" if touching else "ok",
            "worst_severity": touching[0]["severity"] if touching else None,
            "since": min(str(i["opened_at"]) for i in touching) if touching else None,
            "incidents": [{"id": i["id"], "title": i.get("title", ""),
                           "severity": i.get("severity")} for i in touching],
        })
    out.sort(key=lambda s: (s["status"] == "ok",
                            _severity_rank(str(s["worst_severity"])), s["id"]))
    return out


def _incident_brief(row: Row) -> Row:
    top = row.get("top_hypothesis") or {}
    return {"id": row["id"], "title": row.get("title", ""), "severity": row.get("severity"),
            "status": row.get("status"), "opened_at": row.get("opened_at"),
            "updated_at": row.get("updated_at"), "entities": row.get("entities", []),
            "impact": row.get("impact", []), "signal_count": row.get("signal_count"),
            "acknowledged_by": row.get("acknowledged_by"),
            "top_cause": top.get("entity")}


def _noisy(events: Iterable[Row]) -> list[Row]:
    def noise(e: Row) -> int:  # notifications after the first, and times it fired again
        return int(e.get("repeat_count") or 0) + int(e.get("reopen_count") or 0)

    ranked = sorted((e for e in events if noise(e) > 0), key=lambda e: -noise(e))
    return [{"source": e["source"], "name": e["name"], "entity": e["entity"],
             "severity": e["severity"], "status": e["status"],
             "repeats": int(e.get("repeat_count") or 0),
             "reopens": int(e.get("reopen_count") or 0), "last_seen": e.get("last_seen")}
            for e in ranked[:SHOWN]]


def _anomaly_brief(row: Row) -> Row:
    return {key: row.get(key) for key in ("id", "kind", "detector", "entity", "subject", "ts",
                                           "score", "value", "expected", "direction",
                                           "summary")}


def _newest(rows: list[Row]) -> list[Row]:
    unique = {str(r["id"]): r for r in rows}.values()
    ranked = sorted(unique, key=lambda r: (str(r.get("ts")), str(r["id"])), reverse=True)
    return [_anomaly_brief(r) for r in ranked[:SHOWN]]


def _ingestion(services: Services) -> Row:
    telemetry = services.telemetry

    def by_kind(values: dict[tuple[tuple[str, str], ...], float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in dict(values).items():
            kind = dict(key).get("kind", "")
            out[kind] = out.get(kind, 0.0) + value
        return out

    return {
        "ingested": by_kind(telemetry.ingested.values),
        "rejected": by_kind(telemetry.rejected.values),
        "queues": [{"subscriber": s.name, "topic": s.topic, "depth": s.depth}
                   for s in services.bus.subscriptions()],
    }


def build_overview(services: Services) -> Row:
    store = services.store
    entities, user_facing = _user_facing(services)
    open_rows, open_capped = read_pages(
        lambda limit, cursor: store.query_incidents(
            IncidentQuery(status="open", limit=limit, cursor=cursor)), MAX_OPEN_INCIDENTS)
    firing, firing_capped = read_pages(
        lambda limit, cursor: store.query_events(
            EventQuery(status="firing", limit=limit, cursor=cursor)), MAX_FIRING)
    recent = store.query_events(EventQuery(limit=NOISY_SCAN)).items
    anomalies = store.query_anomalies(RecordQuery(limit=ANOMALY_SCAN)).items
    # Log anomalies come in bursts that can fill the scan; ask for metric ones as well.
    metric = store.query_anomalies(RecordQuery(kind=METRIC_KIND, limit=SHOWN)).items
    by_severity = {s: 0 for s in SEVERITIES}
    for row in open_rows:
        by_severity[str(row.get("severity"))] = by_severity.get(str(row.get("severity")), 0) + 1
    return {
        "generated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "services": _service_health(entities, user_facing, open_rows),
        "topology_entities": len(entities),
        "incidents": {"open": len(open_rows), "capped": open_capped,
                      "by_severity": by_severity,
                      "acknowledged": sum(1 for r in open_rows if r.get("acknowledged_by")),
                      "newest": [_incident_brief(r) for r in open_rows[:SHOWN]]},
        "alerts": {"firing": len(firing), "capped": firing_capped,
                   "noisy": _noisy(recent), "scanned": len(recent)},
        "anomalies": {
            "metric": _newest([a for a in anomalies if str(a.get("kind", "")).startswith(
                METRIC_KIND)] + metric),
            "log": _newest([a for a in anomalies if str(a.get("kind", "")).startswith("log")]),
            "scanned": len(anomalies)},
        "ingestion": _ingestion(services),
    }


@router.get("/overview", summary="What the dashboard overview shows, in one read")
async def get_overview(services: Services = Depends(services_of)) -> JSONAnswer:
    return JSONAnswer(await run_in_threadpool(build_overview, services))


@router.get("/whoami", summary="The caller's token: its name and scopes")
async def whoami(request: Request) -> JSONAnswer:
    principal: Principal = request.state.principal  # set by the router's scope check
    return JSONAnswer({"name": principal.name, "scopes": sorted(principal.scopes),
                       "can_act": principal.allows("ingest")})
