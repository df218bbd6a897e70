from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from react_kit import incident_trigger, make_engine

from opscope.model.execution import ExecutionStatus

EXAMPLES = Path(__file__).parents[2] / "examples" / "runbooks"

ECHO_ARGS = (
    "#!"
    + sys.executable
    + """
import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "env": dict(os.environ)}))
"""
)


@pytest.fixture
def runbooks(tmp_path: Path) -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    scripts = {
        "echo-args.py": ECHO_ARGS,
        "fail.sh": "#!/bin/sh\necho 'half done'\necho 'disk full' >&2\nexit 3\n",
        "slow.sh": "#!/bin/sh\nsleep 30\n",
        "chatty.sh": "#!/bin/sh\nyes 'spam spam spam' | head -c 5000000\n",
    }
    for name, text in scripts.items():
        path = folder / name
        path.write_text(text)
        path.chmod(0o755)
    for example in EXAMPLES.glob("*.sh"):
        shutil.copy(example, folder / example.name)
    (tmp_path / "outside.sh").write_text("#!/bin/sh\necho escaped\n")
    (tmp_path / "outside.sh").chmod(0o755)
    (folder / "link.sh").symlink_to(tmp_path / "outside.sh")
    return folder


def _rules(program: str, args: str = "[]", extra: str = "") -> str:
    return f"""
rules:
  - name: run
    trigger: {{on: incident.opened}}
    policies: {{retry: {{attempts: 1}}}}
    actions:
      - kind: runbook
        with:
          program: {program}
          args: {args}
          env: {{INCIDENT: "{{{{ incident.id }}}}", TEAM: "{{{{ incident.labels.team }}}}"}}
          {extra}
"""


HOSTILE = [
    "$(touch /tmp/opscope-pwned)",
    "`touch /tmp/opscope-pwned`",
    "; rm -rf / |",
    "a && b || c > /etc/x",
    "{{ 7*7 }}",
    "'\"\\",
    "-" * 5000,
]


def test_arguments_are_an_argument_list_never_a_shell_string(
    runbooks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "must-not-leak")
    args = json.dumps(["--team", "{{ incident.labels.team }}", "{{ incident.title }}"])
    engine, _, _ = make_engine(_rules("echo-args.py", args), runbook_dir=runbooks)
    for version, hostile in enumerate(HOSTILE):
        trig = incident_trigger(labels={"team": hostile}, title=hostile, version=version)
        [execution] = engine.handle(trig)
        assert execution.status is ExecutionStatus.SUCCEEDED, execution.reason
        seen = json.loads(execution.output)
        assert seen["argv"] == ["--team", hostile, hostile]
        assert seen["env"]["TEAM"] == hostile
    assert not Path("/tmp/opscope-pwned").exists()
    env = seen["env"]
    assert "SECRET_TOKEN" not in env
    assert env["INCIDENT"] == "inc-0042" and env["PATH"] == os.environ["PATH"]
    assert set(env) <= {
        "PATH",
        "LANG",
        "TZ",
        "INCIDENT",
        "TEAM",
        "OPSCOPE_IDEMPOTENCY_KEY",
        "LC_CTYPE",
    }  # LC_CTYPE: python may set it itself


def test_example_runbook_runs(runbooks: Path) -> None:
    args = '["--service", "{{ incident.root_cause.entity }}", "--incident", "{{ incident.id }}"]'
    engine, _, _ = make_engine(_rules("restart-service.sh", args), runbook_dir=runbooks)
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.output == (
        "restarting service cart-service for incident inc-0042\nservice cart-service restarted\n"
    )
    assert execution.result["exit_code"] == 0


def test_failure_keeps_output_and_exit_code(runbooks: Path) -> None:
    engine, _, _ = make_engine(_rules("fail.sh"), runbook_dir=runbooks)
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.FAILED
    assert execution.reason == "runbook exited with 3"
    assert execution.output == "half done\n" and execution.result["stderr"] == "disk full\n"


def test_timeout_kills_the_process_group(runbooks: Path) -> None:
    engine, _, _ = make_engine(_rules("slow.sh", extra="timeout: 0.5"), runbook_dir=runbooks)
    started = time.monotonic()
    [execution] = engine.handle(incident_trigger())
    assert time.monotonic() - started < 5
    assert execution.status is ExecutionStatus.FAILED and "timed out" in execution.reason


def test_output_is_bounded(runbooks: Path) -> None:
    engine, _, _ = make_engine(
        _rules("chatty.sh", extra="max_output_bytes: 1000"), runbook_dir=runbooks
    )
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.output.endswith("[output cut]")
    assert len(execution.output) == 1000 + len("\n[output cut]")


@pytest.mark.parametrize("program", ["../outside.sh", "link.sh", "/bin/sh", "missing.sh", "."])
def test_programs_outside_the_allow_listed_directory_are_refused(
    runbooks: Path, program: str
) -> None:
    engine, _, _ = make_engine(_rules(f'"{program}"'), runbook_dir=runbooks)
    problems = engine.reload(engine.rules)
    assert problems and "run/runbook" in problems[0]
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.FAILED
    assert "outside the runbook directory" in execution.reason or "not an executable" in (
        execution.reason
    )


def test_no_runbook_directory_means_no_runbooks() -> None:
    engine, _, _ = make_engine(_rules("echo-args.py"))
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.FAILED
    assert "no runbook directory" in execution.reason
