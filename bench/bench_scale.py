"""Throughput of the scale-out adapters beside the embedded ones, in one run.

- Store: rows/s appending logs, samples and events in batches, to a DuckDB file and to
  PostgreSQL.
- Bus: items/s published and consumed, batches of 1,000 metric samples, through the
  in-process bus (which passes references: a ceiling, not a peer) and NATS JetStream
  (file storage; every batch encoded, stored, acknowledged and decoded).

A throwaway PostgreSQL server and nats-server are started on loopback (the helpers the
tests use), so the PostgreSQL and NATS Debian packages must be installed.

    .venv/bin/python bench/bench_scale.py [--rows 100000] [--batch 5000] [--batches 200]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench_store import make_events, make_logs, make_samples

from opscope.model import MetricSample
from opscope.pipeline import Bus, InProcessBus
from opscope.store.duckdb import DuckDBStore
from opscope.store.ports import Store

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS / "store"), str(TESTS / "pipeline")]

from nats_server import BINARY as NATS_BINARY  # noqa: E402
from nats_server import NatsServer  # noqa: E402
from pg_server import PgServer, find_binaries  # noqa: E402


def store_rates(store: Store, rows: int, batch: int) -> dict[str, float]:
    """Rows/s per kind; the model objects are built before timing."""
    kinds: list[tuple[str, Callable[[Sequence[Any]], Any], list[Any]]] = [
        ("logs", store.append_logs, make_logs(rows)),
        ("samples", store.append_samples, make_samples(rows)),
        ("events", store.upsert_events, make_events(rows // 5, rows // 50)),
    ]
    rates: dict[str, float] = {}
    for kind, write, items in kinds:
        started = time.perf_counter()
        for at in range(0, len(items), batch):
            write(items[at:at + batch])
        rates[kind] = len(items) / (time.perf_counter() - started)
    return rates


def bus_rate(bus: Bus, batches: list[list[MetricSample]]) -> float:
    """Items/s from the first publish until the subscriber has seen every item."""
    total = sum(len(b) for b in batches)
    seen = [0]
    done = threading.Event()

    def handler(items: Sequence[Any]) -> None:
        seen[0] += len(items)
        if seen[0] >= total:
            done.set()

    bus.subscribe("metrics", "bench", handler)
    started = time.perf_counter()
    for items in batches:
        bus.publish("metrics", items, timeout=10.0)
    if not done.wait(300):
        raise RuntimeError(f"the subscriber saw {seen[0]} of {total} items")
    rate = total / (time.perf_counter() - started)
    bus.close(5.0)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="Rows per kind (store).")
    parser.add_argument("--batch", type=int, default=5_000, help="Rows per store batch.")
    parser.add_argument("--batches", type=int, default=200,
                        help="Batches of 1,000 samples through each bus.")
    args = parser.parse_args()
    bindir = find_binaries()
    if bindir is None or NATS_BINARY is None:
        sys.exit("PostgreSQL (initdb, pg_ctl) and nats-server are needed: make system-deps")

    pg = PgServer(bindir)
    with tempfile.TemporaryDirectory() as tmp:
        nats = NatsServer(Path(tmp) / "nats").start()
        try:
            print(f"store: {args.rows:,} rows per kind in batches of {args.batch:,}")
            embedded = DuckDBStore(Path(tmp) / "bench.duckdb")
            base = store_rates(embedded, args.rows, args.batch)
            embedded.close()
            from opscope.store.postgres import PostgresStore

            shared = PostgresStore(pg.new_database())
            rates = store_rates(shared, args.rows, args.batch)
            shared.close()
            for kind, rate in rates.items():
                print(f"  {kind:8s} DuckDB {base[kind]:>10,.0f} rows/s   PostgreSQL "
                      f"{rate:>10,.0f} rows/s   ratio {rate / base[kind]:.2f}")

            samples = make_samples(1_000 * args.batches)
            batches = [samples[i:i + 1_000] for i in range(0, len(samples), 1_000)]
            gc.collect()
            gc.freeze()  # the prepared batches are not garbage; keep collections off them
            print(f"bus: {args.batches} batches of 1,000 samples, publish + consume")
            inproc = bus_rate(InProcessBus(), batches)
            from opscope.pipeline.nats_bus import NatsBus

            jetstream = bus_rate(NatsBus(nats.url, stream="BENCH", subject_prefix="bench"),
                                 batches)
            print(f"  in-process {inproc:>12,.0f} items/s (references only)")
            print(f"  JetStream  {jetstream:>12,.0f} items/s   ratio {jetstream / inproc:.4f}")
        finally:
            nats.stop()
            pg.stop()


if __name__ == "__main__":
    main()
