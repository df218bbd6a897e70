"""Throughput of the whole log analyzer on raw Loghub lines, against template mining alone.

Every ``*/*_2k.log`` under ``--data`` becomes :class:`~opscope.model.LogRecord` rows (one
source per file, event time one second apart, the raw line with its header as message),
built before timing. One :class:`~opscope.analyze.logs.LogAnalyzer` then processes them in
batches of ``--batch``, as the log analysis stage does. The reference, measured in the same
run, is the template miner alone on the content already split from its header. Times
are CPU seconds of this process (best of ``--repeat``), which other work on a shared
machine disturbs far less than wall time.

    .venv/bin/python bench/bench_log_analysis.py --data /work/shared/data/loghub_2k \
        [--batch 2000] [--repeat 3] [--interleave] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import UTC, datetime, timedelta
from itertools import zip_longest
from pathlib import Path

from opscope.analyze.logs import LogAnalyzer
from opscope.analyze.logs.header import HeaderParser
from opscope.analyze.logs.miner import TemplateMiner
from opscope.model import LogRecord

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def load(root: Path, interleave: bool = False) -> list[LogRecord]:
    """One file after the other, or (``interleave``) their lines taken in turn, as the
    server receives several senders at once."""
    files: list[list[LogRecord]] = []
    for path in sorted(root.glob("*/*_2k.log")):
        name = path.parent.name.lower()
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        files.append([LogRecord(ts=T0 + timedelta(seconds=i), source=name, message=line)
                      for i, line in enumerate(lines)])
    if not interleave:
        return [record for records in files for record in records]
    turns = zip_longest(*files)
    return [record for turn in turns for record in turn if record is not None]


def analyse(records: list[LogRecord], batch: int) -> float:
    analyzer = LogAnalyzer()
    started = time.process_time()
    for i in range(0, len(records), batch):
        analyzer.process(records[i:i + batch])
    return len(records) / (time.process_time() - started)


def mine(contents: list[str]) -> float:
    miner = TemplateMiner()
    started = time.process_time()
    for content in contents:
        miner.add(content)
    return len(contents) / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="Loghub 2k folder")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    parser.add_argument("--interleave", action="store_true",
                        help="take the files' lines in turn instead of one file after another")
    args = parser.parse_args()
    records = load(args.data, args.interleave)
    if not records:
        raise SystemExit(f"no */*_2k.log files under {args.data}")
    headers = HeaderParser()
    contents = [headers.parse(r.message).content for r in records]
    best_miner = max(mine(contents) for _ in range(args.repeat))
    best_all = max(analyse(records, args.batch) for _ in range(args.repeat))
    print(f"{len(records)} lines, batches of {args.batch}, best of {args.repeat}")
    print(f"template miner alone (pre-split content): {best_miner:10,.0f} lines/s")
    print(f"LogAnalyzer.process (raw lines):          {best_all:10,.0f} lines/s "
          f"({best_all / best_miner:.2f} x miner)")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(analyse, records, args.batch)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
