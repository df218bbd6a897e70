"""``opscope eval rca``: root-cause ranking on labelled incident cases.

A case is a folder holding ``case.json`` and a wide ``metrics.csv`` (first column ``time``
in unix seconds, one column per series, empty cell = missing), optionally ``graph.csv``
(``source,target`` caller -> callee) and a normal-operation reference (``normal_rows`` or
``normal_metrics``). Cases are found two folder levels below ``--data`` and reported per
``system``. The labels (``root_cause``, ``fault_type``, ``injection``,
``root_cause_metric``) are removed before the ranker sees a case.

Scores are entity level: AC@k = |top-k ∩ truth| / min(k, |truth|), Avg@5 = mean of AC@1..5.
Two baselines run on the same cases: a random ranking (averaged over seeded shuffles)
and N-Sigma (entities ranked by their largest robust z-score after the fault time).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from opscope.analyze.rca.inputs import RcaInputs

# Keys that give the answer away; the evaluator strips them before the ranker runs.
LABEL_KEYS = ("root_cause", "fault_type", "injection", "root_cause_metric")
DELAYS_S = (0, 60, -60)
RANDOM_SHUFFLES = 200


@dataclass(frozen=True)
class Table:
    """A wide metrics table: times and one value column per series (NaN = missing)."""

    times: list[float]
    columns: dict[str, list[float]]


@dataclass(frozen=True)
class Case:
    """One case as the ranker may see it, plus the labels kept aside for scoring."""

    folder: Path
    meta: dict[str, Any]
    truth: list[str]

    @property
    def case_id(self) -> str:
        return str(self.meta.get("id") or self.folder.name)

    @property
    def system(self) -> str:
        return str(self.meta.get("system") or self.folder.parent.name)


def discover_cases(root: Path) -> list[Path]:
    """Every folder exactly two levels below ``root`` that holds a ``case.json``."""
    return sorted(p.parent for p in root.glob("*/*/case.json") if p.is_file())


def strip_labels(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in LABEL_KEYS}


def load_case(folder: Path) -> Case:
    meta = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{folder / 'case.json'}: expected a JSON object")
    truth = [str(x) for x in meta.get("root_cause") or []]
    return Case(folder=folder, meta=strip_labels(meta), truth=truth)


def _number(cell: str) -> float:
    cell = cell.strip()
    if not cell:
        return math.nan
    try:
        return float(cell)
    except ValueError:
        return math.nan


def read_table(path: Path) -> Table:
    """Read a wide CSV keeping the file's row order (rows may be unsorted)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        names = header[1:]
        times: list[float] = []
        cols: list[list[float]] = [[] for _ in names]
        for row in reader:
            if not row:
                continue
            times.append(_number(row[0]))
            for j in range(len(names)):
                cols[j].append(_number(row[j + 1]) if j + 1 < len(row) else math.nan)
    return Table(times=times, columns=dict(zip(names, cols, strict=True)))


def read_edges(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            (row["source"], row["target"])
            for row in csv.DictReader(fh)
            if row.get("source") and row.get("target")
        ]


def case_inputs(case: Case, delay_s: float = 0.0) -> RcaInputs:
    """Turn a case folder into the ranker's generic inputs (labels already stripped)."""
    from opscope.analyze.rca.inputs import MetricSeries, RcaInputs
    from opscope.model.topology import Relation

    meta = case.meta
    table = read_table(case.folder / "metrics.csv")
    columns: dict[str, Any] = meta.get("columns") or {}
    normal_rows = int(meta.get("normal_rows") or 0)
    ref_table: Table | None = None
    if normal_rows > 0:
        ref_table = Table(
            times=table.times[:normal_rows],
            columns={k: v[:normal_rows] for k, v in table.columns.items()},
        )
        table = Table(
            times=table.times[normal_rows:],
            columns={k: v[normal_rows:] for k, v in table.columns.items()},
        )
    elif meta.get("normal_metrics"):
        path = (case.folder / str(meta["normal_metrics"])).resolve()
        if path.is_file():
            ref_table = _cached_table(path)

    def describe(col: str) -> tuple[str, str]:
        info = columns.get(col) or {}
        entity = str(info.get("entity") or col)
        metric = "|".join(
            str(info[k]) for k in ("metric", "statistic") if info.get(k)
        ) or col
        return entity, metric

    series = []
    reference = []
    for col, values in table.columns.items():
        entity, metric = describe(col)
        series.append(MetricSeries.of(col, entity, metric, table.times, values))
        if ref_table is not None and col in ref_table.columns:
            reference.append(
                MetricSeries.of(col, entity, metric, ref_table.times, ref_table.columns[col])
            )
    edges = [Relation(source=a, target=b) for a, b in read_edges(case.folder / "graph.csv")]
    target = meta.get("target") or {}
    target_key = target.get("column") if isinstance(target, dict) else None
    entities = [describe(c)[0] for c in table.columns]
    return RcaInputs(
        series=series,
        fault_time=float(meta["fault_time"]) + delay_s,
        reference=reference,
        edges=edges,
        topology_source="configuration" if edges else "none",
        target=str(target_key) if target_key else None,
        entities=entities,
    )


_TABLES: dict[Path, Table] = {}


def _cached_table(path: Path) -> Table:
    # Many cases share one normal-reference file; read it once per run.
    if path not in _TABLES:
        _TABLES[path] = read_table(path)
    return _TABLES[path]
