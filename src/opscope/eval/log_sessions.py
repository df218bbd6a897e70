"""``opscope eval log-sessions``: session anomaly detection on HDFS block sessions.

Input files hold one session per line as space-separated log keys (DeepLog's HDFS
split). The model (:class:`opscope.analyze.logs.sessions.SessionModel`) trains on the
normal sessions of the ``--data`` folder (a file whose name holds ``train``). It is
scored on a test folder when one is given with ``--test`` or when ``--data`` itself holds
``test_normal*``/``test_abnormal*`` files: recall on the abnormal sessions and the
false-positive rate on the held-back normal ones. Without test normals (the DEV folder),
the false-positive rate comes from k-fold splits of the training sessions and recall
from the abnormal file of the DEV folder, with the model trained on all training sessions.
Results are given per session and per distinct sequence.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer


def read_sessions(path: Path) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8") as handle:
        return [tuple(line.split()) for line in handle if line.strip()]


@dataclass
class SessionFiles:
    train: Path
    normal: Path | None
    abnormal: Path


def _pick(folder: Path, *, must: tuple[str, ...], avoid: tuple[str, ...] = ()) -> Path | None:
    for path in sorted(folder.glob("*.txt")):
        name = path.name.lower()
        if all(m in name for m in must) and not any(a in name for a in avoid):
            return path
    return None


def find_files(data: Path, test: Path | None) -> SessionFiles:
    train = _pick(data, must=("train",)) or _pick(data, must=("normal",), avoid=("abnormal",))
    if train is None:
        raise typer.BadParameter(f"no training file (*train*.txt) in {data}")
    for folder in (test, data) if test is not None else (data,):
        normal = _pick(folder, must=("test", "normal"), avoid=("abnormal",))
        abnormal = _pick(folder, must=("test", "abnormal"))
        if normal is not None and abnormal is not None:
            return SessionFiles(train, normal, abnormal)
    abnormal = _pick(data, must=("abnormal",))
    if abnormal is None:
        raise typer.BadParameter(f"no abnormal sessions (*abnormal*.txt) in {data}")
    return SessionFiles(train, None, abnormal)


def _rates(flags: list[bool], sessions: list[tuple[str, ...]]) -> dict[str, Any]:
    distinct: dict[tuple[str, ...], bool] = {}
    for session, flag in zip(sessions, flags, strict=True):
        distinct[session] = distinct.get(session, False) or flag  # flagged at least once
    return {
        "sessions": len(sessions), "flagged": sum(flags),
        "rate": round(sum(flags) / len(flags), 4) if flags else 0.0,
        "distinct": len(distinct), "distinct_flagged": sum(distinct.values()),
        "distinct_rate": round(sum(distinct.values()) / len(distinct), 4) if distinct else 0.0,
    }


def evaluate(files: SessionFiles, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    from opscope.analyze.logs.sessions import SessionModel

    train = read_sessions(files.train)
    abnormal = read_sessions(files.abnormal)
    model = SessionModel().fit(train)
    recall = _rates([model.score(s).abnormal for s in abnormal], abnormal)
    report: dict[str, Any] = {
        "train": {"file": files.train.name, "sessions": len(train),
                  "distinct": len(set(train))},
        "abnormal": {"file": files.abnormal.name, **recall},
        "model": {"events": len(model.events), "transitions": len(model.transitions),
                  "required": model.required, "invariants": len(model.invariants)},
    }
    if files.normal is not None:
        normal = read_sessions(files.normal)
        fpr = _rates([model.score(s).abnormal for s in normal], normal)
        report["normal"] = {"file": files.normal.name, "protocol": "held-out file", **fpr}
    else:
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)
        flags = [False] * len(train)
        for fold in range(folds):
            held = set(order[fold::folds])
            fold_model = SessionModel().fit(train[i] for i in order if i not in held)
            for i in held:
                flags[i] = fold_model.score(train[i]).abnormal
        fpr = _rates(flags, train)
        report["normal"] = {"file": files.train.name,
                            "protocol": f"{folds}-fold hold-out of the training file", **fpr}
    report["recall"] = report["abnormal"]["rate"]
    report["false_positive_rate"] = report["normal"]["rate"]
    return report


def log_sessions_command(
    data: Annotated[Path, typer.Option(
        "--data", help="Folder with the training sessions (and DEV abnormal ones).",
        exists=True, file_okay=False)],
    test: Annotated[Path | None, typer.Option(
        "--test", help="Folder with test_normal and test_abnormal sessions.",
        exists=True, file_okay=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Session anomaly detection: recall on abnormal sessions, FPR on held-back normal ones."""
    report = evaluate(find_files(data, test))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="HDFS session anomaly detection")
    for column in ("set", "file", "sessions", "flagged", "rate", "distinct", "distinct rate"):
        table.add_column(column, justify="left" if column in ("set", "file") else "right")
    for name, label in (("abnormal", "recall"), ("normal", "false-positive rate")):
        part = report[name]
        table.add_row(f"{name} ({label})", part["file"], str(part["sessions"]),
                      str(part["flagged"]), f"{part['rate']:.4f}", str(part["distinct"]),
                      f"{part['distinct_rate']:.4f}")
    console = Console(width=120)
    console.print(table)
    train = report["train"]
    console.print(f"normal sessions: {report['normal']['protocol']}; trained on "
                  f"{train['sessions']} sessions ({train['distinct']} distinct)")
