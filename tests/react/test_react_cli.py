from __future__ import annotations

import json
from pathlib import Path

from react_kit import FIXTURES
from typer.testing import CliRunner

from opscope.react.cli import rules_app

EXAMPLES = Path(__file__).parents[2] / "examples" / "rules"
runner = CliRunner()


def test_check_accepts_the_examples() -> None:
    result = runner.invoke(
        rules_app, ["check", str(EXAMPLES / "demo.yaml"), str(EXAMPLES / "routing.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "demo.yaml: 2 rule(s) OK" in result.output


def test_check_reports_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - name: x\n    trigger: {on: incident.opened}\n"
        "    when: 'incident.severity = 1'\n"
        "    actions: [{kind: annotate, with: {text: t}}]\n"
    )
    result = runner.invoke(rules_app, ["check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4:30: rules[0].when: unexpected character '='" in result.output


def test_replay_shows_what_would_have_fired_without_running() -> None:
    result = runner.invoke(
        rules_app,
        [
            "test",
            str(EXAMPLES / "demo.yaml"),
            "--history",
            str(FIXTURES / "history.json"),
            "--replay",
            "24h",
            "--until",
            "2024-05-01T23:00:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2024-05-01 08:00:00 incident.opened inc-1"
    assert "  incident-to-slack -> oncall-channel (slack)" in lines
    assert "  restart-on-memory-leak -> restart-service (runbook) [needs approval]" in lines
    assert lines[-1].startswith("3 trigger(s) would have fired rules")


def test_replay_as_json_lines_with_rendered_inputs() -> None:
    result = runner.invoke(
        rules_app,
        [
            "test",
            str(EXAMPLES / "demo.yaml"),
            "--history",
            str(FIXTURES / "history.json"),
            "--replay",
            "2h",
            "--until",
            "2024-05-01T11:00:00Z",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()[:-1]]
    assert [r["subject"] for r in rows] == ["inc-2", "inc-2"]
    runbook = next(a for a in rows[0]["actions"] if a["kind"] == "runbook")
    assert runbook["inputs"]["args"] == ["--service", "cart-service", "--incident", "inc-2"]
    slack = next(a for a in rows[0]["actions"] if a["kind"] == "slack")
    assert slack["inputs"]["method"] == "chat.postMessage"


def test_replay_with_a_bad_history_file_fails_cleanly(tmp_path: Path) -> None:
    history = tmp_path / "h.json"
    history.write_text(json.dumps([{"kind": "incident.sneezed"}]))
    result = runner.invoke(
        rules_app, ["test", str(EXAMPLES / "demo.yaml"), "--history", str(history)]
    )
    assert result.exit_code == 1
    assert "1 invalid trigger(s)" in result.output


def test_actions_lists_each_kind_and_its_settings() -> None:
    result = runner.invoke(rules_app, ["actions"])
    assert result.exit_code == 0, result.output
    for kind in ("webhook", "runbook", "slack", "pagerduty", "email", "jira", "servicenow"):
        assert f"\n{kind}: " in "\n" + result.output
    one = runner.invoke(rules_app, ["actions", "webhook"])
    assert "  url: HttpUrl (required)" in one.output
    assert "  timeout: float (default 10.0)" in one.output
    assert "runbook:" not in one.output
    bad = runner.invoke(rules_app, ["actions", "fax"])
    assert bad.exit_code == 1
    assert "unknown action kind 'fax'; known kinds: annotate," in bad.output
