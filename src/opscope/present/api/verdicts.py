"""Operators' verdicts on anomalies over the API.

A verdict (``false_alarm`` or ``confirmed``) is kept with the anomaly as a label, for
evaluation and for learning: every verdict given is stored, newest first. A false alarm
on a metric series also teaches that series' detector to tolerate a surprise of that size
from the member that raised it, so that it does not page again for the same thing: the
core's metric analysis reads new verdicts from the store within
``VERDICT_INTERVAL_S`` (so a verdict given on a web replica or from the CLI counts
alike), and the tolerance fades over the ensemble's ``tolerance_memory`` (a year), so one
as large stays quiet for about two months while one a fifth larger still pages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from opscope.analyze.metrics.stage import ANOMALY_KIND, VERDICT_INTERVAL_S
from opscope.errors import NotFound
from opscope.model import AnomalyVerdict, Verdict
from opscope.present.api.deps import actor_of, require, services_of
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


def _effect(verdict: Verdict, anomaly: dict[str, Any]) -> str:
    """What the verdict will change, in words for the operator."""
    if verdict is not Verdict.FALSE_ALARM:
        return "kept as a label; the detector is unchanged"
    if anomaly.get("kind") != ANOMALY_KIND:
        return "kept as a label; only metric detectors learn from verdicts"
    evidence = anomaly.get("evidence")
    if not isinstance(evidence, dict) or "driver_level" not in evidence:
        return ("kept as a label; this anomaly does not name the member that raised it, so "
                "its detector cannot learn from it")
    return (f"kept; within {VERDICT_INTERVAL_S:.0f} s the series' detector stops paging for "
            "a surprise of this size")


@router.post("/anomalies/{anomaly_id}/verdict", dependencies=CHANGE,
             summary="Judge an anomaly: a false alarm quiets its metric series' detector")
async def give_verdict(anomaly_id: str, body: VerdictRequest, request: Request,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    anomaly = await run_in_threadpool(services.store.get_anomaly, anomaly_id)
    if anomaly is None:
        raise NotFound(f"no anomaly {anomaly_id}")
    verdict = AnomalyVerdict(anomaly_id=anomaly_id, verdict=body.verdict,
                             ts=datetime.now(UTC), actor=actor_of(request, body.actor),
                             note=body.note)
    await run_in_threadpool(services.store.record_verdict, verdict)
    return JSONAnswer({"verdict": verdict.model_dump(mode="json"),
                       "detail": _effect(body.verdict, anomaly)})


@router.get("/anomalies/{anomaly_id}", dependencies=READ,
            summary="One anomaly with the verdicts given on it, newest first")
async def get_anomaly(anomaly_id: str,
                      services: Services = Depends(services_of)) -> JSONAnswer:
    anomaly = await run_in_threadpool(services.store.get_anomaly, anomaly_id)
    if anomaly is None:
        raise NotFound(f"no anomaly {anomaly_id}")
    verdicts = await run_in_threadpool(services.store.anomaly_verdicts, [anomaly_id])
    return JSONAnswer({**anomaly, "verdicts": verdicts.get(anomaly_id, [])})
