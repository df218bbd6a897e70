"""The command line: help everywhere, tokens, settings, bulk import over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
from typer.testing import CliRunner

from integration.server_process import ServerProcess, make_token
from opscope.config import Settings
from opscope.present.cli.main import app

runner = CliRunner()


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # Typer ships its own click; groups are recognised by their ``commands`` mapping.
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if hasattr(command, "commands"):
            found += _commands(command, path)
    return found


ALL = _commands(typer.main.get_command(app))


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) for p in ALL])
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    assert command.help or command.short_help, f"{' '.join(path)} has no help text"


def test_expected_commands_exist() -> None:
    names = {" ".join(p) for p in ALL}
    for expected in ("serve", "demo", "ingest", "token create", "token list", "token revoke",
                     "config show", "config docs", "eval"):
        assert expected in names


def test_every_setting_is_documented() -> None:
    def walk(model: type[Settings], prefix: str = "") -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                missing += walk(annotation, f"{prefix}{name}.")  # type: ignore[arg-type]
            elif not field.description:
                missing.append(prefix + name)
        return missing

    assert walk(Settings) == []


def test_token_lifecycle_in_data_dir(tmp_path: Path) -> None:
    created = runner.invoke(app, ["token", "create", "--scope", "read", "--name", "grafana",
                                  "--data-dir", str(tmp_path)])
    assert created.exit_code == 0, created.output
    assert created.output.strip().startswith("ops_")
    token_id = created.output.strip().split("_")[1]
    listed = runner.invoke(app, ["token", "list", "--data-dir", str(tmp_path)])
    assert "grafana" in listed.output and token_id in listed.output
    assert runner.invoke(app, ["token", "revoke", token_id, "--data-dir", str(tmp_path)]
                         ).exit_code == 0
    bad = runner.invoke(app, ["token", "create", "--scope", "root", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2


def test_config_show_applies_environment(tmp_path: Path) -> None:
    conf = tmp_path / "opscope.yaml"
    conf.write_text("port: 9001\nlimits: {max_batch_items: 10}\n")
    result = runner.invoke(app, ["config", "show", "--config", str(conf)],
                           env={"OPSCOPE_LIMITS__MAX_BATCH_ITEMS": "20"})
    assert result.exit_code == 0, result.output
    assert "port: 9001" in result.output
    assert "max_batch_items: 20" in result.output
    assert "github_secret: ''" in result.output
    secret = runner.invoke(app, ["config", "show", "--config", str(conf)],
                           env={"OPSCOPE_RECEIVERS__WEBHOOKS__GITHUB_SECRET": "hunter2hunter2",
                                "OPSCOPE_REACTIONS__APPROVAL_SECRET": "k" * 32})
    assert "hunter2" not in secret.output and "kkkk" not in secret.output
    assert secret.output.count("<hidden>") == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("port: not-a-port\n")
    result = runner.invoke(app, ["config", "show", "--config", str(broken)])
    assert result.exit_code == 2
    assert "port" in result.output


def test_ingest_files_over_http(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = make_token(data, "ingest", "read")
    log_file = tmp_path / "app.log"
    log_file.write_text("".join(f"order {i} shipped in {i % 7} days\n" for i in range(2500)))
    tickets = tmp_path / "tickets.csv"
    tickets.write_text("id,title,created_at,status,entity\n"
                       "T-1,Checkout slow,2026-11-01T10:00:00Z,resolved,checkout\n")
    server = ServerProcess(data).start()
    try:
        for path, extra in ((log_file, ["--entity", "shipping", "--batch-size", "1000"]),
                            (tickets, [])):
            result = runner.invoke(app, ["ingest", str(path), "--url", server.url,
                                         "--token", token, *extra])
            assert result.exit_code == 0, result.output
        headers = {"Authorization": f"Bearer {token}"}
        logs = httpx.get(server.url + "/api/v1/logs", params={"entity": "shipping",
                         "limit": 1000}, headers=headers, timeout=10).json()
        assert len(logs["items"]) == 1000 and logs["next_cursor"]
        got = httpx.get(server.url + "/api/v1/tickets", headers=headers, timeout=10).json()
        assert got["items"][0]["id"] == "T-1"
    finally:
        server.stop()
