"""A server killed with SIGKILL right after a 2xx loses nothing of that batch."""

from __future__ import annotations

from pathlib import Path

import httpx

from integration.server_process import ServerProcess, make_token


def _count_logs(url: str, token: str, marker: str) -> int:
    total, cursor = 0, None
    for _ in range(50):
        params: dict[str, str | int] = {"q": marker, "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        resp = httpx.get(url + "/api/v1/logs", params=params,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
        resp.raise_for_status()
        page = resp.json()
        total += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    return total


def test_sigkill_after_ack_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = make_token(data, "ingest", "read")
    server = ServerProcess(data).start()
    headers = {"Authorization": f"Bearer {token}"}
    body = "".join(f"durable-marker request {i} served in {i % 97} ms\n" for i in range(3000))
    try:
        resp = httpx.post(server.url + "/api/v1/logs", content=body.encode(),
                          params={"source": "test", "entity": "checkout"},
                          headers={**headers, "Content-Type": "text/plain"}, timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == 3000
    finally:
        server.kill()  # SIGKILL: no shutdown hooks, no flush

    restarted = ServerProcess(data).start()
    try:
        assert _count_logs(restarted.url, token, "durable-marker") == 3000
    finally:
        restarted.stop()
