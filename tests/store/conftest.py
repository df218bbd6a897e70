"""Fixtures for the store tests: an in-memory store with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from opscope.store.duckdb import DuckDBStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Iterator[DuckDBStore]:
    s = DuckDBStore(None, clock=clock)
    yield s
    s.close()
