"""``opscope eval logs``: template mining accuracy and speed on Loghub-2k folders.

Each dataset folder holds ``<DS>_2k.log_structured_corrected.csv`` (corrected labels),
``<DS>_2k.log_structured.csv`` (original labels) and/or the raw ``<DS>_2k.log``. The
``Content`` column is parsed in ``LineId`` order; without a structured CSV the raw lines
go through automatic header detection first. Metrics follow Loghub-2.0 (Jiang et al.,
ISSTA 2024): GA and PA weight lines, FGA and FTA weight templates.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

# (predicted group ids, predicted templates) for the lines of one dataset.
Parsed = tuple[list[str], list[str]]


@dataclass(frozen=True)
class ParsingScores:
    ga: float
    fga: float
    pa: float
    fta: float


def _f1(correct: int, predicted: int, truth: int) -> float:
    precision = correct / predicted if predicted else 0.0
    recall = correct / truth if truth else 0.0
    total = precision + recall
    return 2 * precision * recall / total if total else 0.0


def parsing_scores(
    pred_groups: Sequence[str], pred_templates: Sequence[str], truth_templates: Sequence[str],
) -> ParsingScores:
    """GA, FGA, PA and FTA of one dataset (Loghub-2.0 definitions).

    A true group is the set of lines sharing a ground-truth template. A predicted group is
    correct when it holds exactly the lines of one true group; its template is correct when
    in addition its template string equals that ground-truth template.
    """
    n = len(truth_templates)
    if not (len(pred_groups) == len(pred_templates) == n):
        raise ValueError("predictions and labels must have one entry per line")
    if n == 0:
        return ParsingScores(0.0, 0.0, 0.0, 0.0)
    truth_sizes = Counter(truth_templates)
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(pred_groups):
        members[group].append(index)
    correct_lines = correct_groups = correct_templates = 0
    for lines in members.values():
        labels = {truth_templates[i] for i in lines}
        if len(labels) != 1:
            continue
        label = next(iter(labels))
        if truth_sizes[label] != len(lines):
            continue
        correct_lines += len(lines)
        correct_groups += 1
        # A group's template is the one its lines were given; they agree within a group.
        if pred_templates[lines[0]] == label:
            correct_templates += 1
    exact = sum(1 for p, t in zip(pred_templates, truth_templates, strict=True) if p == t)
    return ParsingScores(
        ga=correct_lines / n,
        fga=_f1(correct_groups, len(members), len(truth_sizes)),
        pa=exact / n,
        fta=_f1(correct_templates, len(members), len(truth_sizes)),
    )


@dataclass
class Dataset:
    name: str
    contents: list[str]
    line_ids: list[str]
    truth: list[str] | None
    labels_file: str = ""


@dataclass
class ParserRun:
    name: str
    scores: ParsingScores | None
    lines_per_second: float
    templates: int
    lines: int = 0
    seconds: float = 0.0
    groups: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)


def discover_datasets(root: Path) -> list[Path]:
    """Dataset folders under ``root``: those holding a ``*_structured*.csv`` or a ``.log``."""
    found: list[Path] = []
    candidates = [root, *sorted(p for p in root.rglob("*") if p.is_dir())]
    for folder in candidates:
        if len(folder.relative_to(root).parts) > 3:
            continue
        files = [p.name for p in folder.iterdir() if p.is_file()]
        if any(f.endswith(".csv") and "_structured" in f for f in files) or any(
            f.endswith(".log") for f in files
        ):
            found.append(folder)
    return found


def _read_structured(path: Path) -> tuple[list[str], list[str], list[str] | None]:
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        fields = reader.fieldnames or []
    if "Content" not in fields:
        raise typer.BadParameter(f"{path} has no Content column")
    if "LineId" in fields:
        rows.sort(key=lambda r: int(float(r["LineId"] or 0)))
    line_ids = [r.get("LineId") or str(i + 1) for i, r in enumerate(rows)]
    contents = [r["Content"] for r in rows]
    truth = [r["EventTemplate"] for r in rows] if "EventTemplate" in fields else None
    return contents, line_ids, truth


def _raw_contents(path: Path) -> list[str]:
    """Contents of a raw log through automatic header detection (no per-source setup)."""
    from opscope.analyze.logs.header import HeaderParser

    text = path.read_text(encoding="utf-8", errors="replace")
    parser = HeaderParser()
    return [parser.parse(line).content for line in text.splitlines()]


def load_dataset(folder: Path, labels: str, raw: bool = False) -> Dataset:
    structured = sorted(folder.glob("*_structured*.csv"))
    corrected = [p for p in structured if p.name.endswith("_structured_corrected.csv")]
    original = [p for p in structured if p.name.endswith("_structured.csv")]
    preferred = (corrected or original) if labels == "corrected" else (original or corrected)
    logs = sorted(folder.glob("*.log"))
    name = folder.name
    if preferred:
        path = preferred[0]
        contents, line_ids, truth = _read_structured(path)
        if (labels == "corrected" and not corrected) or (labels == "original" and not original):
            truth = None  # the requested label set is absent: parse, but do not score
        if raw and logs:
            from_raw = _raw_contents(logs[0])
            if len(from_raw) != len(contents):
                raise typer.BadParameter(f"{logs[0]} and {path.name} differ in line count")
            contents = from_raw
        return Dataset(name, contents, line_ids, truth, path.name)
    contents = _raw_contents(logs[0])
    return Dataset(name, contents, [str(i + 1) for i in range(len(contents))], None,
                   logs[0].name)


def run_opscope(contents: list[str]) -> tuple[Parsed, int]:
    from opscope.analyze.logs.miner import TemplateMiner

    miner = TemplateMiner()
    ids = [miner.add(line).template_id for line in contents]
    final = [miner.resolve(i) for i in ids]
    templates = {t.template_id: t.template for t in miner.templates()}
    return (final, [templates.get(i, "") for i in final]), len(templates)


def _drain3_classes() -> tuple[Any, Any, Any]:
    try:
        from drain3 import TemplateMiner as Drain
        from drain3.masking import MaskingInstruction
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise typer.BadParameter(
            "the drain3 baseline needs the 'drain3' package (pip install drain3)"
        ) from exc
    return Drain, MaskingInstruction, TemplateMinerConfig


def run_drain3(contents: list[str]) -> tuple[Parsed, int]:
    Drain, MaskingInstruction, TemplateMinerConfig = _drain3_classes()
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.mask_prefix = "<"
    config.mask_suffix = ">"
    # One configuration for every dataset, as drain3's own examples mask values.
    config.masking_instructions = [
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})"
                           r"((?=[^A-Za-z0-9])|$)", "*"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(0x[a-fA-F0-9]+)((?=[^A-Za-z0-9])|$)", "*"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "*"),
    ]
    drain = Drain(config=config)
    ids = [drain.add_log_message(line)["cluster_id"] for line in contents]
    clusters = {c.cluster_id: c.get_template() for c in drain.drain.clusters}
    return ([str(i) for i in ids], [clusters.get(i, "") for i in ids]), len(clusters)


def _timed(parse: Callable[[list[str]], tuple[Parsed, int]], name: str,
           data: Dataset) -> ParserRun:
    start = time.perf_counter()
    (groups, predicted), count = parse(data.contents)
    elapsed = time.perf_counter() - start
    scores = parsing_scores(groups, predicted, data.truth) if data.truth is not None else None
    speed = len(data.contents) / elapsed if elapsed > 0 else 0.0
    return ParserRun(name, scores, speed, count, len(data.contents), elapsed, groups, predicted)


def _save(directory: Path, data: Dataset, run: ParserRun, suffix: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"{data.name}{suffix}.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["LineId", "EventId", "EventTemplate"])
        writer.writerows(zip(data.line_ids, run.groups, run.predicted, strict=True))


def _as_dict(run: ParserRun) -> dict[str, Any]:
    out: dict[str, Any] = {"lines_per_second": round(run.lines_per_second, 1),
                           "templates": run.templates}
    if run.scores is not None:
        out.update({k: round(v, 4) for k, v in vars(run.scores).items()})
    else:
        out["scored"] = False
    return out


def _average(runs: list[ParserRun]) -> dict[str, Any]:
    scored = [r.scores for r in runs if r.scores is not None]
    out: dict[str, Any] = {"datasets": len(runs), "scored": len(scored)}
    for metric in ("ga", "fga", "pa", "fta"):
        if scored:
            out[metric] = round(sum(getattr(s, metric) for s in scored) / len(scored), 4)
    seconds = sum(r.seconds for r in runs)
    if seconds > 0:
        # All lines over all parsing time, so that large datasets weigh by their size.
        out["lines_per_second"] = round(sum(r.lines for r in runs) / seconds, 1)
    return out


def _print_table(report: dict[str, Any], parsers: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Log parsing ({report['labels']} labels)")
    table.add_column("dataset", no_wrap=True, min_width=10)
    for parser in parsers:
        for metric in ("GA", "FGA", "PA", "FTA", "l/s"):
            table.add_column(f"{parser} {metric}", justify="right")
    rows = [*report["datasets"].items(), ("average", report["average"])]
    for name, per_parser in rows:
        cells = [name]
        for parser in parsers:
            result = per_parser[parser]
            for metric in ("ga", "fga", "pa", "fta"):
                value = result.get(metric)
                cells.append(f"{value:.3f}" if value is not None else "n/a")
            cells.append(f"{result.get('lines_per_second', 0):,.0f}")
        table.add_row(*cells)
    console = Console(width=max(120, 12 + 42 * len(parsers)))
    console.print(table)
    for name, per_parser in report["datasets"].items():
        if any(per_parser[p].get("scored") is False for p in parsers):
            console.print(f"{name}: no labels found, parsed but cannot score")


def logs_command(
    data: Annotated[Path, typer.Option("--data", help="loghub_2k folder or a folder holding it.",
                                       exists=True, file_okay=False)],
    labels: Annotated[str, typer.Option("--labels", help="corrected or original.")] = "corrected",
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="Also run a baseline on the same data: drain3.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    save_predictions: Annotated[Path | None, typer.Option(
        "--save-predictions", help="Write <dataset>.csv (LineId,EventId,EventTemplate) here.",
        file_okay=False)] = None,
    raw: Annotated[bool, typer.Option(
        "--raw", help="Read the raw .log files through automatic header detection instead "
        "of the Content column.")] = False,
) -> None:
    """Template mining accuracy (GA, FGA, PA, FTA) and speed on Loghub-2k data."""
    if labels not in ("corrected", "original"):
        raise typer.BadParameter("--labels must be 'corrected' or 'original'")
    if baseline not in (None, "drain3"):
        raise typer.BadParameter("--baseline must be 'drain3'")
    folders = discover_datasets(data)
    if not folders:
        raise typer.BadParameter(f"no dataset folders found under {data}")
    parsers: list[tuple[str, Callable[[list[str]], tuple[Parsed, int]]]] = [
        ("opscope", run_opscope)]
    if baseline == "drain3":
        parsers.append(("drain3", run_drain3))
    # Imports happen before any timing so that lines per second measure parsing only.
    import opscope.analyze.logs.miner  # noqa: F401

    if baseline == "drain3":
        _drain3_classes()
    report: dict[str, Any] = {"labels": labels, "datasets": {}, "average": {}}
    all_runs: dict[str, list[ParserRun]] = {name: [] for name, _ in parsers}
    for folder in folders:
        dataset = load_dataset(folder, labels, raw)
        report["datasets"][dataset.name] = {}
        for name, parse in parsers:
            run = _timed(parse, name, dataset)
            all_runs[name].append(run)
            report["datasets"][dataset.name][name] = _as_dict(run)
            if save_predictions is not None:
                _save(save_predictions, dataset, run, "" if name == "opscope" else f".{name}")
    report["average"] = {name: _average(runs) for name, runs in all_runs.items()}
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_table(report, [name for name, _ in parsers])
