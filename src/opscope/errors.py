"""The one exception hierarchy of opscope.

Every error says whether retrying can help. Boundaries (HTTP handlers, the CLI,
receivers) translate third-party errors into these; the pipeline never swallows one.
"""

from __future__ import annotations

from typing import Any


class OpscopeError(Exception):
    """Base class. ``retryable`` tells the caller whether the same call may succeed later."""

    retryable: bool = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(OpscopeError):
    """Input is malformed or breaks a rule. Permanent: sending it again will not help.

    ``problems`` is a list of ``{"index": int|None, "field": str, "message": str}``.
    """

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class PayloadTooLarge(OpscopeError):
    """A body or batch exceeds a configured limit."""


class UnsupportedMediaType(OpscopeError):
    """The content type or encoding cannot be read."""


class Overloaded(OpscopeError):
    """No room right now. Retryable after ``retry_after`` seconds.

    ``status`` is 429 when the caller is sending faster than writes complete, 503 when
    downstream analysis is behind.
    """

    retryable = True

    def __init__(self, message: str, retry_after: float = 1.0, status: int = 503) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class StorageError(OpscopeError):
    """The store failed to commit or read. Usually retryable."""

    retryable = True


class NotFound(OpscopeError):
    """The named object does not exist."""


class AuthError(OpscopeError):
    """Missing, unknown or insufficient credentials."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class ConfigError(OpscopeError):
    """The configuration is invalid; the message names the setting."""
