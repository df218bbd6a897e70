"""Ingestion throughput over HTTP on loopback, against a real ``opscope serve``.

For each kind (events, log lines, metric samples) it posts pre-serialised realistic
batches for a fixed time and reports items/s, next to the ceiling of merely parsing the
same bodies with orjson in this process. A mixed soak run then samples the server's
resident memory to show whether it stays flat.

    python bench/bench_ingest.py [--seconds 10] [--soak 120] [--clients 2] [--analysis off]

With ``--analysis off`` the server runs without its analysis stages (log templates,
metric detectors, correlation, reactions): the figure is then the store-and-acknowledge
path alone. With analysis on, the slowest stage sets the pace through back-pressure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.server_process import ServerProcess, make_token

SERVICES = ["checkout", "payment", "cart", "catalog", "search", "user", "shipping", "gateway"]


def events_body(n: int, offset: int) -> bytes:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return orjson.dumps([{
        "source": "bench", "name": f"HighLatency{(offset + i) % 50}",
        "severity": ("critical", "warning", "info")[i % 3],
        "entity": SERVICES[i % len(SERVICES)],
        "labels": {"team": "shop", "instance": f"10.0.{i % 250}.{(offset + i) % 250}:8080"},
        "annotations": {"summary": "p99 latency above 2s"},
        "starts_at": (base + timedelta(seconds=offset + i)).isoformat(),
    } for i in range(n)])


def logs_body(n: int, offset: int) -> bytes:
    base = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    return orjson.dumps([{
        "ts": base + (offset + i) * 0.001, "source": "bench",
        "entity": SERVICES[i % len(SERVICES)], "level": ("info", "warning", "error")[i % 3],
        "message": f"request {offset + i:x} GET /api/cart/{i % 977} served in {i % 300} ms "
                   f"status={200 if i % 17 else 503}",
    } for i in range(n)])


def metrics_body(n: int, offset: int) -> bytes:
    base = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    return orjson.dumps([{
        "name": "http_request_duration_seconds",
        "labels": {"service": SERVICES[i % len(SERVICES)], "quantile": "0.99",
                   "instance": f"pod-{i % 200}"},
        "value": (i % 1000) / 1000.0, "ts": base + offset + i // 200,
    } for i in range(n)])


KINDS = {
    "events": ("/api/v1/events", events_body, 2_000),
    "logs": ("/api/v1/logs", logs_body, 10_000),
    "metrics": ("/api/v1/metrics", metrics_body, 20_000),
}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def post_for(url: str, token: str, path: str, bodies: list[bytes], per_batch: int,
             seconds: float, clients: int) -> tuple[int, float]:
    sent = [0] * clients
    stop = time.monotonic() + seconds

    def worker(k: int) -> None:
        with httpx.Client(base_url=url, timeout=60, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as c:
            i = k
            while time.monotonic() < stop:
                resp = c.post(path, content=bodies[i % len(bodies)])
                if resp.status_code in (429, 503):
                    time.sleep(float(resp.headers.get("Retry-After", "1")))
                    continue
                resp.raise_for_status()
                sent[k] += per_batch
                i += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(sent), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="Time per kind.")
    parser.add_argument("--soak", type=float, default=120.0, help="Mixed run for memory.")
    parser.add_argument("--clients", type=int, default=2, help="Concurrent HTTP clients.")
    parser.add_argument("--json", action="store_true", help="Print JSON only.")
    parser.add_argument("--analysis", choices=("on", "off"), default="on",
                        help="Run the server's analysis stages (default) or not.")
    args = parser.parse_args()
    if args.analysis == "off":
        for section in ("LOG_ANALYSIS", "METRIC_ANALYSIS", "CORRELATION", "REACTIONS"):
            os.environ[f"OPSCOPE_{section}__ENABLED"] = "false"

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        token = make_token(data, "ingest", "read")
        server = ServerProcess(data).start()
        assert server.proc is not None
        try:
            for kind, (path, make, per_batch) in KINDS.items():
                bodies = [make(per_batch, j * per_batch) for j in range(8)]
                started = time.perf_counter()
                for body in bodies * 3:
                    orjson.loads(body)
                ceiling = per_batch * len(bodies) * 3 / (time.perf_counter() - started)
                n, elapsed = post_for(server.url, token, path, bodies, per_batch,
                                      args.seconds, args.clients)
                results[kind] = {"items_per_s": n / elapsed, "orjson_parse_per_s": ceiling,
                                 "ratio_to_parse": n / elapsed / ceiling,
                                 "batch_size": per_batch}
            # Soak: all kinds interleaved, resident memory sampled along the way.
            mixed = [(p, make(b, 10**7 + j * b), b) for p, make, b in KINDS.values()
                     for j in range(4)]
            samples: list[int] = [rss_kb(server.proc.pid)]
            stop = time.monotonic() + args.soak
            with httpx.Client(base_url=server.url, timeout=60, headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json"}) as client:
                i = 0
                last = time.monotonic()
                while time.monotonic() < stop:
                    path, body, _ = mixed[i % len(mixed)]
                    resp = client.post(path, content=body)
                    if resp.status_code not in (429, 503):
                        resp.raise_for_status()
                    i += 1
                    if time.monotonic() - last > 5:
                        samples.append(rss_kb(server.proc.pid))
                        last = time.monotonic()
            samples.append(rss_kb(server.proc.pid))
            quarter = max(1, len(samples) // 4)
            results["soak"] = {
                "seconds": args.soak, "requests": i,
                "rss_mb_start": samples[0] / 1024,
                "rss_mb_after_first_quarter": samples[quarter] / 1024,
                "rss_mb_end": samples[-1] / 1024,
            }
        finally:
            server.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"analysis {args.analysis}, {args.clients} clients, {args.seconds:.0f}s per kind")
    print(f"{'kind':<8} {'items/s':>12} {'orjson parse/s':>15} {'ratio':>7} {'batch':>7}")
    for kind in KINDS:
        r = results[kind]
        print(f"{kind:<8} {r['items_per_s']:>12,.0f} {r['orjson_parse_per_s']:>15,.0f} "
              f"{r['ratio_to_parse']:>7.3f} {int(r['batch_size']):>7}")
    s = results["soak"]
    print(f"soak {s['seconds']:.0f}s, {s['requests']:.0f} requests: RSS {s['rss_mb_start']:.0f} MB"
          f" at start, {s['rss_mb_after_first_quarter']:.0f} MB after the first quarter, "
          f"{s['rss_mb_end']:.0f} MB at the end")


if __name__ == "__main__":
    main()
