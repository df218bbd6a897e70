"""Settings validation: the scale-out choices and what ``config show`` masks."""

import pytest

from opscope.config import Settings, load_settings
from opscope.errors import ConfigError


def test_one_process_with_embedded_storage_is_the_default() -> None:
    settings = Settings()
    assert (settings.role, settings.storage.backend, settings.bus.backend) == (
        "all", "duckdb", "inprocess")


@pytest.mark.parametrize("role", ["ingest", "core", "web"])
def test_a_shared_role_needs_postgres_and_nats(role: str) -> None:
    with pytest.raises(ConfigError, match=r"needs storage\.backend postgres and bus\.backend nats"):
        load_settings(None, environ={}, role=role)
    with pytest.raises(ConfigError, match=r"needs storage\.backend postgres"):
        load_settings(None, environ={"OPSCOPE_STORAGE__BACKEND": "postgres",
                                     "OPSCOPE_STORAGE__POSTGRES_DSN": "postgresql://db/ops"},
                      role=role)
    settings = load_settings(None, environ={
        "OPSCOPE_STORAGE__BACKEND": "postgres",
        "OPSCOPE_STORAGE__POSTGRES_DSN": "postgresql://db/ops",
        "OPSCOPE_BUS__BACKEND": "nats"}, role=role)
    assert settings.role == role


def test_postgres_needs_a_dsn() -> None:
    with pytest.raises(ConfigError, match="postgres_dsn"):
        load_settings(None, environ={"OPSCOPE_STORAGE__BACKEND": "postgres"})


def test_config_show_masks_the_dsn_and_passwords_in_urls() -> None:
    settings = load_settings(None, environ={
        "OPSCOPE_STORAGE__BACKEND": "postgres",
        "OPSCOPE_STORAGE__POSTGRES_DSN": "postgresql://ops:pw1@db/ops",
        "OPSCOPE_BUS__NATS_URL": "nats://ops:pw2@nats:4222"})
    shown = settings.shown()
    assert shown["storage"]["postgres_dsn"] == "<hidden>"
    assert shown["bus"]["nats_url"] == "nats://ops:<hidden>@nats:4222"
    assert Settings().shown()["bus"]["nats_url"] == "nats://127.0.0.1:4222"
    odd = Settings.model_validate({"bus": {"nats_url": "nats://ops:p@ss/w@nats:4222"}})
    assert odd.shown()["bus"]["nats_url"] == "nats://ops:<hidden>@nats:4222"
