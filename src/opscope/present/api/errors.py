"""Translate opscope errors into HTTP answers whose JSON names what is wrong."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from opscope.errors import (
    AuthError,
    ConfigError,
    NotFound,
    OpscopeError,
    Overloaded,
    PayloadTooLarge,
    StorageError,
    UnsupportedMediaType,
    ValidationFailed,
)
from opscope.present.api.responses import JSONAnswer


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


def _status(exc: OpscopeError) -> tuple[int, str]:
    if isinstance(exc, ValidationFailed):
        return 422, "validation_failed"
    if isinstance(exc, PayloadTooLarge):
        return 413, "payload_too_large"
    if isinstance(exc, UnsupportedMediaType):
        return 415, "unsupported_media_type"
    if isinstance(exc, AuthError):
        return exc.status, "unauthorized" if exc.status == 401 else "forbidden"
    if isinstance(exc, NotFound):
        return 404, "not_found"
    if isinstance(exc, Overloaded):
        return 503, "overloaded"
    if isinstance(exc, StorageError):
        return 503, "storage_unavailable"
    if isinstance(exc, ConfigError):
        return 500, "config_error"
    return 500, "internal_error"


def install_error_handlers(app: FastAPI) -> None:
    async def on_opscope_error(request: Request, exc: Exception) -> JSONAnswer:
        assert isinstance(exc, OpscopeError)
        status, code = _status(exc)
        body = error_body(code, exc.message)
        headers: dict[str, str] = {}
        if isinstance(exc, ValidationFailed):
            body["problems"] = exc.problems
        if isinstance(exc, Overloaded):
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))
            status = exc.status
        if isinstance(exc, AuthError) and status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONAnswer(body, status_code=status, headers=headers)

    async def on_request_validation(request: Request, exc: Exception) -> JSONAnswer:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"index": None, "field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        return JSONAnswer(
            error_body("validation_failed", "request parameters are invalid", problems=problems),
            status_code=422)

    app.add_exception_handler(OpscopeError, on_opscope_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
