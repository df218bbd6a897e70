"""A committed batch survives the writing process being killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opscope.store.duckdb import DuckDBStore
from opscope.store.ports import EventQuery, LogQuery

WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timezone
    from opscope.model import Event, LogRecord
    from opscope.store.duckdb import DuckDBStore

    store = DuckDBStore(sys.argv[1])
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    store.append_logs([LogRecord(ts=t0, message=f"line {i}") for i in range(5000)])
    store.upsert_events([Event(source="am", name="Durable", starts_at=t0)])
    print("committed", flush=True)
    time.sleep(60)  # killed long before this ends; close() is never called
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_committed_batch_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "durable.duckdb"
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get(
        "PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "committed"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    with DuckDBStore(path) as store:
        page = store.query_logs(LogQuery(limit=1000))
        assert len(page.items) == 1000 and page.next_cursor is not None
        total = 0
        cursor = None
        while True:
            page = store.query_logs(LogQuery(limit=1000, cursor=cursor))
            total += len(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert total == 5000
        assert [e["name"] for e in store.query_events(EventQuery()).items] == ["Durable"]
