"""Run a real ``opscope serve`` process on loopback for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

OPSCOPE = [sys.executable, "-m", "opscope.present.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_token(data_dir: Path, *scopes: str) -> str:
    args = [*OPSCOPE, "token", "create", "--data-dir", str(data_dir)]
    for scope in scopes:
        args += ["--scope", scope]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60)
    return out.stdout.strip().splitlines()[-1]


class ServerProcess:
    def __init__(self, data_dir: Path, port: int | None = None,
                 config: Path | None = None) -> None:
        self.data_dir = data_dir
        self.config = config
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self._log = log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*OPSCOPE, "serve", "--data-dir", str(self.data_dir), "--port", str(self.port),
             "--log-level", "warning",
             *(["--config", str(self.config)] if self.config is not None else [])],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close_log()
