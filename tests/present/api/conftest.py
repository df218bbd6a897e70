"""An in-process API over an in-memory store, with tokens of each scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.present.api.auth import create_token
from opscope.present.api.services import Services
from opscope.store.duckdb import DuckDBStore

FIXTURES = Path(__file__).parents[2] / "fixtures"


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[Services]:
    settings = load_settings(environ={}, data_dir=tmp_path,
                             limits={"max_body_bytes": 1_000_000, "max_batch_items": 5_000})
    services = build_services(settings, store=DuckDBStore(None))
    yield services


@pytest.fixture()
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services)) as test_client:
        yield test_client


@pytest.fixture()
def tokens(services: Services) -> dict[str, str]:
    return {scope: create_token(services.store, [scope], scope)
            for scope in ("ingest", "read", "admin")}


@pytest.fixture()
def writer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['ingest']}"}


@pytest.fixture()
def reader(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['read']}"}
