"""Sending the simulator's output to an opscope server over its HTTP ingest API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType

import httpx
import orjson
from pydantic import BaseModel

from opscope.errors import (
    AuthError,
    NotFound,
    OpscopeError,
    Overloaded,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from opscope.sim.simulation import Batch
from opscope.sim.topology import Topology

ENDPOINTS = {
    "events": "/api/v1/events",
    "logs": "/api/v1/logs",
    "metrics": "/api/v1/metrics",
    "changes": "/api/v1/changes",
    "tickets": "/api/v1/tickets",
    "topology": "/api/v1/topology",
}
# Changes first: a deploy should be stored before the errors it causes arrive.
BATCH_ORDER = ("changes", "events", "metrics", "logs", "tickets")


class DeliveryFailed(OpscopeError):
    """The server stayed unreachable or failing through every retry."""

    retryable = True


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _rejected(response: httpx.Response, path: str) -> OpscopeError:
    text = response.text[:2000]
    message = f"POST {path} answered {response.status_code}: {text}"
    status = response.status_code
    if status in (401, 403):
        return AuthError(message, status=status)
    if status == 404:
        return NotFound(message)
    if status == 413:
        return PayloadTooLarge(message)
    if status == 415:
        return UnsupportedMediaType(message)
    return ValidationFailed(message)


class HttpFeeder:
    """A sink for ``run_realtime``: posts each batch to the ingest endpoints.

    429 and 503 answers are retried after their ``Retry-After`` (capped); other 5xx
    answers and connection errors are retried with exponential backoff; any other 4xx
    raises at once, with the server's text. Lists are sent in chunks of ``chunk_size``.
    """

    def __init__(self, base_url: str, token: str, *, chunk_size: int = 5000,
                 max_retries: int = 5, max_retry_after: float = 30.0, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.chunk_size = chunk_size
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        self.sent: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)

    async def __aenter__(self) -> HttpFeeder:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __call__(self, batch: Batch) -> None:
        for kind in BATCH_ORDER:
            await self.send(kind, getattr(batch, kind))

    async def send_topology(self, topology: Topology) -> None:
        await self._post(ENDPOINTS["topology"], orjson.dumps(topology.to_json()))
        self.sent["topology"] += 1

    async def send(self, kind: str, items: Sequence[BaseModel]) -> None:
        """Post ``items`` to the endpoint of ``kind`` (events, logs, metrics, changes,
        tickets), in chunks."""
        path = ENDPOINTS[kind]
        for i in range(0, len(items), self.chunk_size):
            chunk = items[i:i + self.chunk_size]
            await self._post(path, orjson.dumps([m.model_dump(mode="json") for m in chunk]))
            self.sent[kind] += len(chunk)

    async def _post(self, path: str, body: bytes) -> None:
        attempt = 0
        while True:
            try:
                response = await self._client.post(path, content=body)
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise DeliveryFailed(f"POST {path} failed: {exc}") from exc
                await self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            status = response.status_code
            if status < 400:
                return
            if status in (429, 503):
                if attempt >= self.max_retries:
                    raise Overloaded(f"POST {path} still answered {status} after "
                                     f"{attempt} retries: {response.text[:500]}",
                                     retry_after=self._wait(response, attempt))
                await self._sleep(self._wait(response, attempt))
            elif status >= 500:
                if attempt >= self.max_retries:
                    raise DeliveryFailed(f"POST {path} answered {status} after {attempt} "
                                         f"retries: {response.text[:500]}")
                await self._sleep(self._backoff(attempt))
            else:
                raise _rejected(response, path)
            attempt += 1

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        told = retry_after_seconds(response.headers.get("Retry-After"))
        wait = self._backoff(attempt) if told is None else told
        return min(wait, self.max_retry_after)

    def _backoff(self, attempt: int) -> float:
        return float(min(0.25 * 2**attempt, self.max_retry_after))
