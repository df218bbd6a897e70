"""A real Prometheus (Debian's package) remote-writes to opscope, and opscope scrapes it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.server_process import ServerProcess, free_port, make_token

BINARY = shutil.which("prometheus")

if BINARY is None and os.environ.get("REQUIRE_SYSTEM_TOOLS"):
    raise RuntimeError("prometheus is required (make system-deps installs it)")

pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus not installed")

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus-self
    static_configs:
      - targets: ["127.0.0.1:{prom_port}"]
remote_write:
  - url: "{url}/api/v1/metrics/remote-write"
    authorization:
      credentials: "{token}"
    queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 500}}
"""

OPSCOPE_CONFIG = """\
receivers:
  scrape:
    - url: "http://127.0.0.1:{prom_port}/metrics"
      job: scraped-by-opscope
      interval_seconds: 1
      labels: {{env: test}}
"""


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    data = tmp_path / "data"
    token = make_token(data, "ingest", "read")
    prom_port = free_port()
    settings = tmp_path / "opscope.yml"
    settings.write_text(OPSCOPE_CONFIG.format(prom_port=prom_port))
    server = ServerProcess(data, config=settings).start()
    config = tmp_path / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG.format(prom_port=prom_port, url=server.url,
                                               token=token))
    assert BINARY is not None
    prom_log = (tmp_path / "prometheus.log").open("wb")
    prom = subprocess.Popen(
        [BINARY, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=prom_log)
    try:
        yield {"server": server, "token": token}
    finally:
        prom.terminate()
        prom.wait(15)
        prom_log.close()
        server.stop()


def _series(stack: dict[str, Any], name: str, match: str) -> list[dict[str, Any]]:
    resp = httpx.get(stack["server"].url + "/api/v1/metrics/series",
                     params={"name": name, "match": match},
                     headers={"Authorization": f"Bearer {stack['token']}"}, timeout=5)
    resp.raise_for_status()
    found: list[dict[str, Any]] = resp.json()["series"]
    return found


def test_remote_write_and_scrape_reach_the_store(stack: dict[str, Any]) -> None:
    deadline = time.monotonic() + 60
    written: list[dict[str, Any]] = []
    scraped: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not (written and scraped):
        written = _series(stack, "prometheus_build_info", 'job="prometheus-self"')
        scraped = _series(stack, "prometheus_build_info", 'job="scraped-by-opscope"')
        time.sleep(0.5)
    assert written, "no remote-written series arrived within 60 s"
    assert scraped, "no scraped series arrived within 60 s"
    assert written[0]["labels"]["version"].startswith("2.")
    assert scraped[0]["labels"]["env"] == "test"
    up = _series(stack, "up", 'job="scraped-by-opscope"')
    assert up and up[0]["points"][-1][1] == 1.0
