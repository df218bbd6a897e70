"""``opscope eval rca``: root-cause ranking on labelled incident cases.

A case is a folder holding ``case.json`` and a wide ``metrics.csv`` (first column ``time``
in unix seconds, one column per series, empty cell = missing), optionally ``graph.csv``
(``source,target`` caller -> callee) and a normal-operation reference (``normal_rows`` or
``normal_metrics``). Cases are found two folder levels below ``--data`` and reported per
``system``. The labels (``root_cause``, ``fault_type``, ``injection``,
``root_cause_metric``) are removed before the ranker sees a case.

Scores are entity level: AC@k = |top-k ∩ truth| / min(k, |truth|), Avg@5 = mean of AC@1..5.
Two baselines run on the same cases: a random ranking (its exact expected score)
and N-Sigma (entities ranked by their largest z-score after the fault time, robust
median/IQR and classic mean/standard deviation).
"""

from __future__ import annotations

import csv
import functools
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
            # A row without a readable time cannot be placed before or after the fault.
            if not row or not math.isfinite(_number(row[0])):
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


@functools.lru_cache(maxsize=8)
def _cached_table(path: Path) -> Table:
    # Many cases share one normal-reference file; read it once per run, not per case.
    return read_table(path)


# --- scoring -------------------------------------------------------------------------


def ac_at_k(ranked: Sequence[str], truth: Sequence[str], k: int) -> float:
    """|top-k ∩ truth| / min(k, |truth|); 0 for an empty truth."""
    if not truth:
        return 0.0
    return len(set(ranked[:k]) & set(truth)) / min(k, len(truth))


def avg_at_5(ranked: Sequence[str], truth: Sequence[str]) -> float:
    return sum(ac_at_k(ranked, truth, k) for k in range(1, 6)) / 5.0


def random_ac_at_k(n_entities: int, truth: Sequence[str], k: int) -> float:
    """Expected AC@k of a uniformly random ranking: E|top-k ∩ truth| = k |truth| / n."""
    if not truth or n_entities == 0:
        return 0.0
    hits = min(k, n_entities) * len(truth) / n_entities
    return min(hits, float(len(truth))) / min(k, len(truth))


def dedupe(entities: Sequence[str]) -> list[str]:
    """Keep the first occurrence of each entity (rankers may list columns)."""
    return list(dict.fromkeys(entities))


@dataclass
class Scores:
    """Per-case AC@1..5 rows of one method at one delay."""

    rows: list[list[float]]

    def summary(self) -> dict[str, float]:
        n = len(self.rows)
        if n == 0:
            return {"cases": 0, "AC@1": 0.0, "AC@3": 0.0, "Avg@5": 0.0}
        col = [sum(r[i] for r in self.rows) / n for i in range(5)]
        return {"cases": n, "AC@1": col[0], "AC@3": col[2], "Avg@5": sum(col) / 5.0}


Ranker = Callable[["RcaInputs"], list[str]]


def _rankers() -> dict[str, Ranker]:
    from opscope.analyze.rca import rank_by_nsigma, rank_root_causes

    return {
        "opscope": lambda inputs: dedupe([h.entity for h in rank_root_causes(inputs)]),
        "nsigma": lambda inputs: rank_by_nsigma(inputs, robust=True),
        "nsigma_std": lambda inputs: rank_by_nsigma(inputs, robust=False),
    }


def evaluate(
    root: Path, delays: Sequence[int] = DELAYS_S,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Run every ranker and the random baseline on every case at every delay.

    Returns the report (per system and overall) and the opscope predictions at delay 0.
    """
    folders = discover_cases(root)
    if not folders:
        raise FileNotFoundError(f"no case.json two levels below {root}")
    rankers = _rankers()
    cases = [load_case(f) for f in folders]
    methods = [*rankers, "random"]
    scores: dict[tuple[str, str, int], Scores] = {}
    predictions: dict[str, list[str]] = {}
    for case in cases:
        groups = (case.system, "all")
        for delay in delays:
            inputs = case_inputs(case, float(delay))
            n_entities = len(inputs.entity_names())
            for name, ranker in rankers.items():
                ranked = ranker(inputs)
                if name == "opscope" and delay == 0:
                    predictions[case.case_id] = ranked
                if case.truth:
                    row = [ac_at_k(ranked, case.truth, k) for k in range(1, 6)]
                    for g in groups:
                        scores.setdefault((g, name, delay), Scores([])).rows.append(row)
            if case.truth:
                row = [random_ac_at_k(n_entities, case.truth, k) for k in range(1, 6)]
                for g in groups:
                    scores.setdefault((g, "random", delay), Scores([])).rows.append(row)
    systems = [*sorted({c.system for c in cases}), "all"]
    report: dict[str, Any] = {
        "data": str(root), "cases": len(cases),
        "labelled": sum(1 for c in cases if c.truth), "delays_s": list(delays),
        "systems": {
            g: {
                m: {str(d): scores[(g, m, d)].summary() for d in delays if (g, m, d) in scores}
                for m in methods
            }
            for g in systems
        },
    }
    return report, predictions


def render(report: dict[str, Any]) -> str:
    """A plain-text table: one block per system, one row per method and delay."""
    lines = [f"RCA evaluation on {report['data']}: {report['cases']} cases, "
             f"{report['labelled']} labelled (entity level)"]
    for system, methods in report["systems"].items():
        lines.append("")
        lines.append(f"system: {system}")
        if not any(methods.values()):
            lines.append("  no labelled cases: ranked and saved, not scored")
            continue
        lines.append(f"  {'method':<11} {'delay':>6} {'cases':>6} {'AC@1':>6} {'AC@3':>6} "
                     f"{'Avg@5':>6}")
        for method, per_delay in methods.items():
            for delay, s in per_delay.items():
                lines.append(
                    f"  {method:<11} {int(delay):>+6d} {s['cases']:>6d} {s['AC@1']:>6.3f} "
                    f"{s['AC@3']:>6.3f} {s['Avg@5']:>6.3f}"
                )
    return "\n".join(lines)


def rca_command(
    data: Annotated[Path, typer.Option(
        "--data", help="The rca folder: cases are found two levels below it.",
        exists=True, file_okay=False, dir_okay=True,
    )],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    save_predictions: Annotated[Path | None, typer.Option(
        "--save-predictions", help="Write each case's ranked entities (delay 0) as JSON.",
    )] = None,
) -> None:
    """Root-cause ranking: AC@1, AC@3 and Avg@5 against N-Sigma and random baselines."""
    try:
        report, predictions = evaluate(data)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if save_predictions is not None:
        save_predictions.write_text(json.dumps(predictions, indent=1) + "\n", encoding="utf-8")
    typer.echo(json.dumps(report, indent=1) if as_json else render(report))
