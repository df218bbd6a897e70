"""Fixtures for the store tests: stores of both backends, with a clock the test moves.

Tests that take ``store`` (or ``stores``) run once per backend, with ids ``[duckdb]`` and
``[postgres]``. The PostgreSQL stores live on one throwaway server started for the whole
session on loopback (``pg_server.py``); each test gets an empty database. Without the
PostgreSQL binaries the ``postgres`` cases are skipped, unless ``REQUIRE_SYSTEM_TOOLS``
is set (as in CI), in which case they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import REQUIRED, DatabasePool, PgServer, find_binaries
from store_backends import BACKENDS, AnyStore, Stores
from store_clock import ManualClock


@pytest.fixture(scope="session")
def pg_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabasePool]:
    bindir = find_binaries()
    if bindir is None:
        if REQUIRED:
            pytest.fail("PostgreSQL (initdb, pg_ctl) is required for the store tests "
                        "(make system-deps installs it)")
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl)")
    server = PgServer(bindir)
    try:
        yield DatabasePool(server)
    finally:
        server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def module_stores(backend: str, request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """Stores shared by a module's read-only tests (opening one per case is the slow part)."""
    stores = Stores(backend, request, tmp_path_factory.mktemp("stores"))
    yield stores
    stores.close()


@pytest.fixture
def stores(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    s = Stores(backend, request, tmp_path)
    yield s
    s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(stores: Stores, clock: ManualClock) -> AnyStore:
    return stores.open(clock=clock)
