"""CI/CD webhooks: deploys from GitHub and GitLab become change records.

Neither service can send an ``Authorization`` header, so these endpoints authenticate the
way each sender can: GitHub signs the body with the webhook's secret
(``X-Hub-Signature-256``, checked against ``receivers.webhooks.github_secret``), and GitLab
sends its "secret token" verbatim in ``X-Gitlab-Token``, which is an opscope token with the
``ingest`` scope. A bearer token is accepted as well, for replays with curl.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from opscope.collect import cicd
from opscope.collect.body import decode_json
from opscope.errors import AuthError, UnsupportedMediaType
from opscope.present.api.body import media_type, read_body
from opscope.present.api.deps import services_of
from opscope.present.api.ingest import PARTIAL, commit_batch
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services

router = APIRouter(prefix="/api/v1/webhooks", tags=["ingest"])


async def _bearer(request: Request, services: Services, header: str | None) -> None:
    principal = await run_in_threadpool(services.auth.authenticate, header, "ingest")
    request.state.principal = principal


def _json_only(request: Request) -> None:
    kind, _ = media_type(request)
    if kind not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"send application/json (got {kind!r}); in the webhook's settings choose "
            "the JSON content type")


@router.post("/github", summary="GitHub webhook: deployment statuses become deploys")
async def post_github(request: Request, partial: bool = PARTIAL,
                      services: Services = Depends(services_of)) -> JSONAnswer:
    """Subscribe the webhook to *Deployment statuses* with content type
    ``application/json``. Rollouts that start, succeed or fail are recorded as changes
    of kind ``deploy``; ``ping`` and other events are acknowledged and recorded as nothing.
    """
    secret = services.settings.receivers.webhooks.github_secret
    if not secret:
        await _bearer(request, services, request.headers.get("authorization"))
    _json_only(request)
    body = await read_body(request, services.settings.limits.max_body_bytes)
    if secret and not cicd.github_signature_ok(
            secret, body, request.headers.get("x-hub-signature-256")):
        raise AuthError("missing or wrong X-Hub-Signature-256: the webhook's secret must "
                        "equal receivers.webhooks.github_secret")
    event = request.headers.get("x-github-event", "")
    result, note = cicd.parse_github(event, decode_json(body), datetime.now(UTC))
    return await commit_batch(services, "changes", result, partial, {"note": note})


@router.post("/gitlab", summary="GitLab webhook: deployment events become deploys")
async def post_gitlab(request: Request, partial: bool = PARTIAL,
                      services: Services = Depends(services_of)) -> JSONAnswer:
    """Enable *Deployment events* and put an opscope token with the ``ingest`` scope in
    the webhook's *Secret token*. Deployments that start, succeed or fail are recorded as
    changes of kind ``deploy``; other events are acknowledged and recorded as nothing.
    """
    token = request.headers.get("x-gitlab-token")
    header = f"Bearer {token.strip()}" if token else request.headers.get("authorization")
    await _bearer(request, services, header)
    _json_only(request)
    body = await read_body(request, services.settings.limits.max_body_bytes)
    event = request.headers.get("x-gitlab-event", "")
    result, note = cicd.parse_gitlab(event, decode_json(body), datetime.now(UTC))
    return await commit_batch(services, "changes", result, partial, {"note": note})
