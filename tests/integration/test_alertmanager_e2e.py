"""A real Prometheus Alertmanager (Debian's package) delivers to a running opscope."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.server_process import ServerProcess, free_port, make_token

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

if BINARY is None and os.environ.get("REQUIRE_SYSTEM_TOOLS"):
    raise RuntimeError("prometheus-alertmanager is required (make system-deps installs it)")

pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager not installed")

AM_CONFIG = """\
route:
  receiver: opscope
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opscope
    webhook_configs:
      - url: "{url}/api/v1/alertmanager"
        send_resolved: true
        http_config:
          authorization:
            credentials: "{token}"
"""


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    data = tmp_path / "data"
    token = make_token(data, "ingest", "read")
    server = ServerProcess(data).start()
    am_port = free_port()
    config = tmp_path / "am.yml"
    config.write_text(AM_CONFIG.format(url=server.url, token=token))
    assert BINARY is not None
    am_log = (tmp_path / "am.log").open("wb")
    am = subprocess.Popen(
        [BINARY, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=am_log)
    am_url = f"http://127.0.0.1:{am_port}"
    try:
        _wait(lambda: httpx.get(am_url + "/-/ready", timeout=1).status_code == 200, 30,
              "alertmanager ready")
        yield {"server": server, "token": token, "am_url": am_url}
    finally:
        am.terminate()
        am.wait(10)
        am_log.close()
        server.stop()


def _wait(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _post_alert(am_url: str, ends_at: datetime) -> None:
    alert = [{
        "labels": {"alertname": "CheckoutDown", "service": "checkout", "severity": "critical",
                   "team": "shop"},
        "annotations": {"summary": "checkout answers 5xx"},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "endsAt": ends_at.isoformat(),
    }]
    resp = httpx.post(am_url + "/api/v2/alerts", json=alert, timeout=5)
    assert resp.status_code == 200, resp.text


def _events(stack: dict[str, Any]) -> list[dict[str, Any]]:
    resp = httpx.get(stack["server"].url + "/api/v1/events",
                     params={"source": "alertmanager", "entity": "checkout"},
                     headers={"Authorization": f"Bearer {stack['token']}"}, timeout=5)
    resp.raise_for_status()
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def test_alert_fires_and_resolves_through_real_alertmanager(stack: dict[str, Any]) -> None:
    _post_alert(stack["am_url"], datetime.now(UTC) + timedelta(hours=1))
    _wait(lambda: len(_events(stack)) == 1, 30, "the firing alert in opscope")
    (event,) = _events(stack)
    assert event["status"] == "firing"
    assert event["name"] == "CheckoutDown"
    assert event["severity"] == "critical"
    assert event["labels"]["team"] == "shop"

    _post_alert(stack["am_url"], datetime.now(UTC) - timedelta(seconds=1))
    _wait(lambda: _events(stack)[0]["status"] == "resolved", 30, "the resolution")
    events = _events(stack)
    assert len(events) == 1, "the resolution must update the alert, not add another"
    assert events[0]["fingerprint"] == event["fingerprint"]
    assert events[0]["ends_at"] is not None
