"""Token administration over the API (scope ``admin``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from opscope.errors import NotFound
from opscope.present.api.auth import SCOPES, create_token
from opscope.present.api.deps import require, services_of
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services

router = APIRouter(prefix="/api/v1/tokens", tags=["admin"],
                   dependencies=[Depends(require("admin"))])


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scopes: list[str] = Field(min_length=1, description=f"Some of {', '.join(SCOPES)}.")
    name: str = Field("", max_length=128, description="What the token is for.")


@router.post("", summary="Create a token (the secret is shown once)")
async def post_token(body: TokenRequest,
                     services: Services = Depends(services_of)) -> JSONAnswer:
    token = await run_in_threadpool(create_token, services.store, body.scopes, body.name)
    return JSONAnswer({"token": token, "scopes": sorted(set(body.scopes))}, status_code=201)


@router.get("", summary="List tokens (without secrets)")
async def get_tokens(services: Services = Depends(services_of)) -> JSONAnswer:
    return JSONAnswer({"items": await run_in_threadpool(services.store.list_tokens)})


@router.delete("/{token_id}", summary="Revoke a token")
async def delete_token(token_id: str,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    if not await run_in_threadpool(services.store.revoke_token, token_id):
        raise NotFound(f"no token {token_id}")
    return JSONAnswer({"revoked": token_id})
