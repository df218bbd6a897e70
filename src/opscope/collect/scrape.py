"""Scraping Prometheus endpoints: opscope pulls ``/metrics`` itself, as Prometheus would.

Each target is fetched every ``interval`` seconds (the first fetch is spread over the
first interval so that many targets do not fire at once). The body is parsed as the
text exposition format (:mod:`opscope.collect.prometheus`); samples without their own
timestamp get the scrape's start time. As in Prometheus, every sample gets the
target's ``job`` and ``instance`` labels (``instance`` is the URL's host:port) plus
any configured labels, and a clashing exposed label is kept as ``exported_<name>``.
Each scrape also yields the synthetic series Prometheus writes: ``up`` (1 when the
scrape succeeded, 0 when it did not), ``scrape_duration_seconds`` and
``scrape_samples_scraped``, so a target that stops answering is itself a signal.

A scrape that fails (refused, timed out, HTTP error, a body over the size limit,
unparsable) logs why, keeps the reason in :attr:`TargetState.last_error`, and still
delivers ``up = 0``. Lines that do not parse are dropped and counted, the rest kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from opscope.collect.prometheus import parse_exposition
from opscope.config import ScrapeTarget
from opscope.errors import OpscopeError
from opscope.model import MetricSample

log = logging.getLogger(__name__)

Ingest = Callable[[list[MetricSample]], Awaitable[None]]
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"


@dataclass
class TargetState:
    """What the last scrape of a target did."""

    target: ScrapeTarget
    scrapes: int = 0
    failures: int = 0
    dropped_lines: int = 0
    last_error: str = ""
    last_at: datetime | None = None
    last_samples: int = 0
    up: bool = False
    _task: asyncio.Task[None] | None = field(default=None, repr=False)


class _ScrapeFailed(Exception):
    pass


class Scraper:
    """Scrapes its targets on their intervals and hands the samples to ``ingest``."""

    def __init__(self, targets: list[ScrapeTarget], ingest: Ingest,
                 client: httpx.AsyncClient | None = None, spread: bool = True) -> None:
        self.targets = [TargetState(t) for t in targets]
        self._ingest = ingest
        self._client = client
        self._own_client = client is None
        self._spread = spread

    async def open(self) -> None:
        """Create the HTTP client (``start`` does it too); for scrapes on demand."""
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=True)

    async def start(self) -> None:
        await self.open()
        for state in self.targets:
            state._task = asyncio.create_task(self._loop(state))

    async def stop(self) -> None:
        for state in self.targets:
            if state._task is not None:
                state._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await state._task
                state._task = None
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _loop(self, state: TargetState) -> None:
        interval = state.target.interval_seconds
        if self._spread:
            await asyncio.sleep(random.uniform(0, interval))
        while True:
            started = time.monotonic()
            await self.scrape_once(state)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def scrape_once(self, state: TargetState) -> list[MetricSample]:
        """Scrape the target now, deliver its samples and return them."""
        target = state.target
        at = datetime.now(UTC)
        t0 = time.perf_counter()
        try:
            samples = await self._fetch(state, at)
            state.up, state.last_error = True, ""
        except _ScrapeFailed as exc:
            samples = []
            state.up, state.last_error = False, str(exc)
            state.failures += 1
            log.warning("scrape of %s failed: %s", target.url, exc)
        labels = target.target_labels
        meta = [("up", 1.0 if state.up else 0.0),
                ("scrape_duration_seconds", time.perf_counter() - t0),
                ("scrape_samples_scraped", float(len(samples)))]
        samples.extend(MetricSample(name=name, labels=labels, value=value, ts=at)
                       for name, value in meta)
        state.scrapes += 1
        state.last_at, state.last_samples = at, len(samples)
        try:
            await self._ingest(samples)
        except OpscopeError as exc:  # e.g. analysis is behind: this scrape is skipped
            log.warning("samples of %s not stored: %s", target.url, exc)
        return samples

    async def _fetch(self, state: TargetState, at: datetime) -> list[MetricSample]:
        target = state.target
        assert self._client is not None, "start() first"
        headers = {"Accept": ACCEPT,
                   "X-Prometheus-Scrape-Timeout-Seconds": str(target.timeout_seconds)}
        if target.bearer_token_env:
            token = os.environ.get(target.bearer_token_env, "")
            if not token:
                raise _ScrapeFailed(f"${target.bearer_token_env} is not set")
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self._client.stream("GET", str(target.url), headers=headers,
                                           timeout=target.timeout_seconds) as resp:
                if resp.status_code != 200:
                    raise _ScrapeFailed(f"HTTP {resp.status_code}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > target.max_bytes:
                        raise _ScrapeFailed(f"body exceeds {target.max_bytes} bytes")
                    chunks.append(chunk)
                charset = resp.charset_encoding or "utf-8"
        except httpx.HTTPError as exc:
            raise _ScrapeFailed(f"{type(exc).__name__}: {exc}") from None
        try:
            text = b"".join(chunks).decode(charset)
        except (UnicodeDecodeError, LookupError):
            raise _ScrapeFailed(f"body is not valid {charset}") from None
        try:
            result = parse_exposition(text, at, target.target_labels,
                                      max_samples=target.max_samples)
        except OpscopeError as exc:
            raise _ScrapeFailed(str(exc)) from None
        if result.problems:
            state.dropped_lines += len(result.problems)
            first = result.problems[0]
            log.warning("scrape of %s: %d bad line(s), first at line %s: %s", target.url,
                        len(result.problems), first.index, first.message)
        return list(result.items)
