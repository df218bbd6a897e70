"""FastAPI dependencies: the services object and scope checks."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from opscope.present.api.auth import Principal
from opscope.present.api.services import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def require(scope: str) -> Callable[[Request], object]:
    """A dependency that authenticates the bearer token and checks ``scope``."""

    async def check(request: Request) -> Principal:
        services = services_of(request)
        principal = await run_in_threadpool(
            services.auth.authenticate, request.headers.get("authorization"), scope)
        request.state.principal = principal
        return principal

    return check


def actor_of(request: Request, given: str) -> str:
    """Who acts: the name the body gives, else the token's name, else ``api``."""
    if given:
        return given
    principal = getattr(request.state, "principal", None)
    return principal.name if isinstance(principal, Principal) and principal.name else "api"
