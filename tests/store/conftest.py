"""Fixtures for the store tests: an in-memory store with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from store_clock import ManualClock

from opscope.store.duckdb import DuckDBStore


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Iterator[DuckDBStore]:
    s = DuckDBStore(None, clock=clock)
    yield s
    s.close()
