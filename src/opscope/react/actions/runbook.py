"""Runbook: run an executable from the allow-listed runbook directory.

The program is named relative to the directory the engine was configured with
(``ReactSettings.runbook_dir``); a rule cannot choose another directory, and a path that
resolves outside it (``..``, a symlink) is refused. It runs with an argument list
(``shell=False``): each argument is a template rendered to one string, so alert text
full of ``$(...)``, backticks, ``;`` or ``|`` arrives as inert characters in ``argv``.
The environment is built from nothing: the names in ``inherit_env`` are copied from the
engine's environment, ``env`` adds templated values. The process runs in its own process
group and the whole group is killed at the timeout; stdout and stderr are captured up to
``max_output_bytes`` each (the rest is read and dropped so the child never blocks). A
non-zero exit is a failure the engine does not retry unless ``retry_on_exit`` lists it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any, ClassVar

from pydantic import Field

from opscope.react.actions.base import (
    Action,
    ActionConfig,
    ActionContext,
    ActionServices,
    DeliveryFailed,
    Outcome,
)
from opscope.react.templates import RENDERER

MAX_ARGS = 64


class RunbookConfig(ActionConfig):
    program: str = Field(
        min_length=1,
        max_length=256,
        description="Executable, relative to the runbook directory, e.g. 'restart-service.sh'.",
    )
    args: list[str] = Field(
        default_factory=list,
        max_length=MAX_ARGS,
        description="Arguments; each is a template rendered to exactly one argument.",
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables to set; values are templates."
    )
    inherit_env: list[str] = Field(
        default_factory=lambda: ["PATH", "LANG", "TZ"],
        description="Names copied from the engine's environment when present.",
    )
    timeout: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds before the run is killed."
    )
    max_output_bytes: int = Field(
        default=16_384, ge=256, le=1_048_576, description="Bytes kept of stdout and of stderr each."
    )
    retry_on_exit: list[int] = Field(
        default_factory=list, description="Exit codes that mean 'try again later'."
    )


def resolve_program(directory: Path | None, program: str) -> Path:
    if directory is None:
        raise DeliveryFailed("no runbook directory is configured", retryable=False)
    root = directory.resolve()
    path = (root / program).resolve()
    if not path.is_relative_to(root) or path == root:
        raise DeliveryFailed(
            f"runbook {program!r} is outside the runbook directory", retryable=False
        )
    if not path.is_file() or not os.access(path, os.X_OK):
        raise DeliveryFailed(f"runbook {program!r} is not an executable file", retryable=False)
    return path


def _drain(stream: IO[bytes], limit: int, sink: list[bytes], cut: list[bool]) -> None:
    kept = 0
    while chunk := stream.read(8192):
        room = limit - kept
        if room > 0:
            sink.append(chunk[:room])
            kept += min(room, len(chunk))
        if len(chunk) > max(room, 0):
            cut[0] = True
    stream.close()


class RunbookAction(Action[RunbookConfig]):
    kind: ClassVar[str] = "runbook"
    config_model: ClassVar[type[ActionConfig]] = RunbookConfig

    def target(self) -> str:
        return f"runbook:{self.config.program}"

    def check(self, services: ActionServices) -> list[str]:
        try:
            resolve_program(services.runbook_dir, self.config.program)
        except DeliveryFailed as exc:
            return [exc.message]
        return []

    def prepare(self, ctx: ActionContext) -> dict[str, Any]:
        args = [RENDERER.render_text(a, ctx.fields) for a in self.config.args]
        env = {k: RENDERER.render_text(v, ctx.fields) for k, v in self.config.env.items()}
        return {"program": self.config.program, "args": args, "env": env}

    def deliver(self, inputs: dict[str, Any], ctx: ActionContext) -> Outcome:
        program = resolve_program(ctx.services.runbook_dir, inputs["program"])
        env = {k: v for k, v in ctx.services.runbook_env.items() if k in self.config.inherit_env}
        env.update(inputs["env"])
        env["OPSCOPE_IDEMPOTENCY_KEY"] = ctx.idempotency_key
        argv = [str(program), *[str(a) for a in inputs["args"]]]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                shell=False,
                env=env,
                cwd=str(program.parent),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise DeliveryFailed(f"runbook could not start: {exc}", retryable=False) from exc
        limit = self.config.max_output_bytes
        out: list[bytes] = []
        err: list[bytes] = []
        out_cut, err_cut = [False], [False]
        assert proc.stdout is not None and proc.stderr is not None  # PIPE was requested
        readers = [
            threading.Thread(target=_drain, args=(proc.stdout, limit, out, out_cut)),
            threading.Thread(target=_drain, args=(proc.stderr, limit, err, err_cut)),
        ]
        for reader in readers:
            reader.start()
        timed_out = False
        try:
            code = proc.wait(timeout=self.config.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            code = proc.wait()
        for reader in readers:
            reader.join(timeout=5)
        stdout = b"".join(out).decode(errors="replace") + ("\n[output cut]" if out_cut[0] else "")
        stderr = b"".join(err).decode(errors="replace") + ("\n[output cut]" if err_cut[0] else "")
        result = {
            "exit_code": code,
            "duration_s": round(time.monotonic() - started, 3),
            "stderr": stderr[-4096:],
        }
        if timed_out:
            raise DeliveryFailed(
                f"runbook timed out after {self.config.timeout}s",
                retryable=False,
                result=result,
                output=stdout,
            )
        if code != 0:
            raise DeliveryFailed(
                f"runbook exited with {code}",
                retryable=code in self.config.retry_on_exit,
                result=result,
                output=stdout,
            )
        return Outcome(result=result, output=stdout)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have exited meanwhile
        os.killpg(proc.pid, signal.SIGKILL)
