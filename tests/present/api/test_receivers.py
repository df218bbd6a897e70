"""Receivers configured in the settings run with the server and feed the store."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from fastapi.testclient import TestClient

from opscope.app import build_services, create_app
from opscope.config import load_settings
from opscope.present.api.auth import create_token
from opscope.store.duckdb import DuckDBStore

FIXTURES = Path(__file__).parents[2] / "fixtures"


def test_syslog_and_file_receivers_feed_the_store(tmp_path: Path) -> None:
    logfile = tmp_path / "app.log"
    logfile.write_text("")
    settings = load_settings(environ={}, data_dir=tmp_path, receivers={
        "syslog": {"enabled": True, "port": 0, "tcp": False},
        "files": {"paths": [str(tmp_path / "*.log")], "entity": "billing",
                  "start_at": "beginning"}})
    services = build_services(settings, store=DuckDBStore(None))
    token = create_token(services.store, ["read"])
    headers = {"Authorization": f"Bearer {token}"}
    datagrams = (FIXTURES / "syslog/logger-udp.txt").read_bytes().splitlines()
    with TestClient(create_app(settings, services)) as client:
        syslog = services.extras["receivers"][0]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in datagrams:
                sock.sendto(datagram, ("127.0.0.1", syslog.udp_port))
        with logfile.open("a") as handle:
            handle.write("invoice 42 generated in 13 ms\n")
        deadline = time.monotonic() + 15
        items: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            items = client.get("/api/v1/logs", headers=headers).json()["items"]
            if len(items) >= len(datagrams) + 1:
                break
            time.sleep(0.2)
    messages = {str(i["message"]) for i in items}
    assert any("payment gateway timeout after 3000 ms" in m for m in messages)
    assert any("Accepted publickey for deploy" in m for m in messages)
    billing = [i for i in items if i["entity"] == "billing"]
    assert [i["message"] for i in billing] == ["invoice 42 generated in 13 ms"]
    checkout = next(i for i in items if "payment gateway" in str(i["message"]))
    assert checkout["entity"] == "checkout"
    assert checkout["level"] == "error"
