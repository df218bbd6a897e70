"""Operators' verdicts on anomalies over the API.

A verdict (``false_alarm`` or ``confirmed``) is kept with the anomaly as a label, for
evaluation and for learning: every verdict given is stored, newest first. A false alarm
on a metric series also teaches that series' detector, on the core process that scores
it, to tolerate a surprise of that size from the member that raised it, so that it does
not page again for the same thing: the tolerance fades over the ensemble's
``tolerance_memory`` (a year), so one as large stays quiet for about two months, and one
a fifth larger still pages. The answer says whether the detector learnt: it cannot on a
read-only web replica, for anomalies other than metric ones, for anomalies stored before
their evidence named the member and its score, or for a series whose detector has been
evicted since.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from opscope.analyze.metrics.stage import ANOMALY_KIND, MetricAnalysisStage
from opscope.errors import NotFound
from opscope.model import AnomalyVerdict, Verdict
from opscope.present.api.auth import Principal
from opscope.present.api.deps import require, services_of
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services

router = APIRouter(prefix="/api/v1", tags=["anomalies"])
READ = [Depends(require("read"))]
CHANGE = [Depends(require("ingest"))]


class VerdictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Verdict = Field(description="false_alarm or confirmed.")
    actor: str = Field("", max_length=256, description="Who judges; default: the token's name.")
    note: str = Field("", max_length=2048, description="Why, in a few words.")


def _actor(request: Request, given: str) -> str:
    if given:
        return given
    principal = getattr(request.state, "principal", None)
    return principal.name if isinstance(principal, Principal) and principal.name else "api"


def _learn(services: Services, anomaly: dict[str, Any]) -> tuple[bool, str]:
    """Hand a metric false alarm to the detector; whether it learnt, and if not, why."""
    if anomaly.get("kind") != ANOMALY_KIND:
        return False, "only metric detectors learn from verdicts"
    stage = services.extras.get("metric_analysis")
    if not isinstance(stage, MetricAnalysisStage):
        if services.settings.role == "web":
            return False, "kept; the core process scores the series (read-only web replica)"
        return False, "metric analysis is not enabled on this server"
    evidence = anomaly.get("evidence")
    if not isinstance(evidence, dict) or not stage.tolerate(str(anomaly["subject"]), evidence):
        return False, ("the series' detector cannot take it (no member named in the "
                       "evidence, or the series is no longer tracked)")
    return True, "the series' detector will not page again for a surprise of this size"


@router.post("/anomalies/{anomaly_id}/verdict", dependencies=CHANGE,
             summary="Judge an anomaly: a false alarm quiets its metric series' detector")
async def give_verdict(anomaly_id: str, body: VerdictRequest, request: Request,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    anomaly = await run_in_threadpool(services.store.get_anomaly, anomaly_id)
    if anomaly is None:
        raise NotFound(f"no anomaly {anomaly_id}")
    verdict = AnomalyVerdict(anomaly_id=anomaly_id, verdict=body.verdict,
                             ts=datetime.now(UTC), actor=_actor(request, body.actor),
                             note=body.note)
    await run_in_threadpool(services.store.record_verdict, verdict)
    learnt, why = (False, "a confirmed anomaly changes nothing in the detector")
    if body.verdict is Verdict.FALSE_ALARM:
        learnt, why = await run_in_threadpool(_learn, services, anomaly)
    return JSONAnswer({"verdict": verdict.model_dump(mode="json"), "learnt": learnt,
                       "detail": why})


@router.get("/anomalies/{anomaly_id}", dependencies=READ,
            summary="One anomaly with the verdicts given on it, newest first")
async def get_anomaly(anomaly_id: str,
                      services: Services = Depends(services_of)) -> JSONAnswer:
    anomaly = await run_in_threadpool(services.store.get_anomaly, anomaly_id)
    if anomaly is None:
        raise NotFound(f"no anomaly {anomaly_id}")
    verdicts = await run_in_threadpool(services.store.anomaly_verdicts, [anomaly_id])
    return JSONAnswer({**anomaly, "verdicts": verdicts.get(anomaly_id, [])})
