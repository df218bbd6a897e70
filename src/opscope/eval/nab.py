"""``opscope eval nab``: the Numenta Anomaly Benchmark, scored as NAB defines it.

The default metric detector runs online over every data file (each file is one series;
the files are scored together in one vectorised pass, which changes nothing for any one
of them because a series only ever sees its own rows). Its alarms are scored with NAB's
windowed scoring under the three standard profiles, together with point-wise precision,
recall, F1 and AUC-PR, and a trailing-window z-score is scored the same way in the same
run as a reference. The detector never reads the labels and has one fixed setting.

Scores are also broken down by group (a file's folder), and ``--cut N`` scores every file
cut to its first and to its last N rows: a check, on the labelled data in hand, of short
streams and of anomalies early in a series' life, which held-out data may hold more of.
``--thin K`` scores every file thinned to every K-th row: the same check for coarser
cadences. ``--fine K`` gives every row K samples (its value repeated at K even steps of
its interval, as from a source that updates every five minutes and is scraped K times as
often) and scores the alarms folded back onto the rows: the same check for finer ones.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import numpy.typing as npt
import typer

if TYPE_CHECKING:
    from opscope.analyze.metrics.detector import Detector

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

PROFILES: dict[str, tuple[float, float, float]] = {
    # name: (A_TP, A_FP, A_FN), NAB's cost matrices (config/profiles.json).
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP_rate": (1.0, 0.22, 1.0),
    "reward_low_FN_rate": (1.0, 0.11, 2.0),
}


@dataclass
class NabFile:
    key: str  # "<group>/<file>.csv"
    timestamps: list[str]
    t: FloatArray
    values: FloatArray
    windows: list[tuple[int, int]] | None = None  # row indices, both ends inclusive


@dataclass
class FileScore:
    raw: float = 0.0
    tp: int = 0
    fn: int = 0
    fp: int = 0


@dataclass
class CorpusScore:
    profile: str
    raw: float
    windows: int
    score: float
    files: dict[str, FileScore] = field(default_factory=dict)


def parse_ts(text: str) -> float:
    stamp = datetime.strptime(text.strip()[:19], "%Y-%m-%d %H:%M:%S")
    return stamp.replace(tzinfo=UTC).timestamp()


def read_file(path: Path, key: str) -> NabFile:
    timestamps: list[str] = []
    values: list[float] = []
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["timestamp", "value"]:
            raise typer.BadParameter(f"{path}: header must be 'timestamp,value'")
        for row in reader:
            if not row:
                continue
            timestamps.append(row[0].strip())
            values.append(float(row[1]) if row[1].strip() else math.nan)
    t = np.array([parse_ts(s) for s in timestamps], dtype=np.float64)
    return NabFile(key=key, timestamps=timestamps, t=t, values=np.array(values))


def windows_as_rows(nab: NabFile, windows: list[list[str]]) -> list[tuple[int, int]]:
    """Turn ``[start, end]`` timestamps into row indices (the first row with each stamp)."""
    first: dict[float, int] = {}
    for i, ts in enumerate(nab.t.tolist()):
        first.setdefault(ts, i)
    rows: list[tuple[int, int]] = []
    for start, end in windows:
        s, e = first.get(parse_ts(start)), first.get(parse_ts(end))
        if s is None or e is None:
            raise typer.BadParameter(f"{nab.key}: window {start}..{end} does not match rows")
        rows.append((s, e))
    return sorted(rows)


def load_corpus(root: Path) -> tuple[list[NabFile], bool]:
    """Read ``root/data/**.csv`` and, if present, ``root/labels/windows.json``."""
    data_dir = root / "data"
    if not data_dir.is_dir():
        raise typer.BadParameter(f"{root} has no data/ folder")
    labels_path = root / "labels" / "windows.json"
    labels: dict[str, list[list[str]]] | None = None
    if labels_path.is_file():
        labels = json.loads(labels_path.read_text())
    files: list[NabFile] = []
    for path in sorted(data_dir.glob("*/*.csv")):
        key = f"{path.parent.name}/{path.name}"
        nab = read_file(path, key)
        if labels is not None and key in labels:
            nab.windows = windows_as_rows(nab, labels[key])
        files.append(nab)
    return files, labels is not None


def truncate(nab: NabFile, rows: int, keep: str) -> NabFile:
    """The first (``keep="head"``) or last (``"tail"``) ``rows`` rows as a stream of its own.

    Windows that no longer fit, or that now start inside the shorter stream's probationary
    period, are dropped, as NAB dropped windows overlapping the probationary period. Cut
    files show, with labelled data already in hand, how a detector does on short streams
    and on anomalies that come early in a series' life, which the full files rarely test.
    """
    if keep not in ("head", "tail"):
        raise ValueError("keep must be 'head' or 'tail'")
    n = len(nab.t)
    start = max(0, n - rows) if keep == "tail" else 0
    stop = n if keep == "tail" else min(n, rows)
    windows = None
    if nab.windows is not None:
        first = probation(stop - start)
        windows = [
            (s - start, e - start) for s, e in nab.windows if s - start > first and e < stop
        ]
    return NabFile(
        key=nab.key, timestamps=nab.timestamps[start:stop], t=nab.t[start:stop],
        values=nab.values[start:stop], windows=windows,
    )


def thin(nab: NabFile, step: int) -> NabFile:
    """Every ``step``-th row as a stream of its own: the same series at a coarser cadence
    (15 minutes for ``step`` 3 of a 5-minute file), as many monitored series are.

    A window keeps its time span, now in fewer rows; windows that start inside the thinned
    stream's probationary period are dropped, as in :func:`truncate`.
    """
    if step < 1:
        raise ValueError("step must be at least 1")
    n = len(nab.t[::step])
    windows = None
    if nab.windows is not None:
        first = probation(n)
        windows = [(s // step, min(e // step, n - 1)) for s, e in nab.windows
                   if s // step > first]
    return NabFile(key=nab.key, timestamps=nab.timestamps[::step], t=nab.t[::step],
                   values=nab.values[::step], windows=windows)


def fine(nab: NabFile, k: int) -> NabFile:
    """Every row as ``k`` samples: its value repeated at ``k`` even steps of the time to
    the next row (the last row's at the file's median interval), as a source that updates
    every five minutes looks when it is scraped ``k`` times as often. Windows cover the
    samples of their rows; :func:`fold` maps alarms back onto the rows."""
    if k < 1:
        raise ValueError("k must be at least 1")
    gaps = np.diff(nab.t)
    step = np.append(gaps, np.median(gaps) if gaps.size else 300.0) / k
    t = (nab.t[:, None] + np.arange(k)[None, :] * step[:, None]).ravel()
    windows = None if nab.windows is None else [(s * k, e * k + k - 1) for s, e in nab.windows]
    return NabFile(key=nab.key, timestamps=[], t=t, values=np.repeat(nab.values, k),
                   windows=windows)


def fold(alarms: BoolArray, k: int) -> BoolArray:
    """Alarms of a :func:`fine` file as alarms of its rows: a row alarms if any of its
    samples does."""
    result: BoolArray = np.any(alarms.reshape(-1, k), axis=1)
    return result


# -- NAB scoring ----------------------------------------------------------------------


def scaled_sigmoid(y: float) -> float:
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation(n: int) -> int:
    return min(math.floor(0.15 * n), 750)


def score_file(
    alarms: BoolArray, windows: list[tuple[int, int]], weights: tuple[float, float, float]
) -> FileScore:
    """NAB raw score of one file (see the data README for the definition)."""
    a_tp, a_fp, a_fn = weights
    n = alarms.shape[0]
    result = FileScore()
    detections = [int(i) for i in np.flatnonzero(alarms) if i >= probation(n)]
    best: list[float | None] = [None] * len(windows)
    norm = scaled_sigmoid(-1.0)
    for i in detections:
        inside = next((k for k, (s, e) in enumerate(windows) if s <= i <= e), None)
        if inside is not None:
            s, e = windows[inside]
            value = a_tp * scaled_sigmoid(-(e - i + 1) / (e - s + 1)) / norm
            current = best[inside]
            best[inside] = value if current is None else max(current, value)
            continue
        result.fp += 1
        before = [(s, e) for s, e in windows if e < i]
        if not before:
            result.raw -= a_fp
            continue
        s, e = before[-1]
        width = e - s + 1
        y = (i - e) / (width - 1) if width > 1 else math.inf
        result.raw += a_fp * scaled_sigmoid(y)
    for earned in best:
        if earned is None:
            result.fn += 1
            result.raw -= a_fn
        else:
            result.tp += 1
            result.raw += earned
    return result


def score_corpus(files: list[NabFile], alarms: dict[str, BoolArray], profile: str) -> CorpusScore:
    weights = PROFILES[profile]
    a_tp, _a_fp, a_fn = weights
    total, n_windows = 0.0, 0
    per_file: dict[str, FileScore] = {}
    for nab in files:
        if nab.windows is None:
            continue
        fs = score_file(alarms[nab.key], nab.windows, weights)
        per_file[nab.key] = fs
        total += fs.raw
        n_windows += len(nab.windows)
    null, perfect = -a_fn * n_windows, a_tp * n_windows
    score = 100.0 * (total - null) / (perfect - null) if n_windows else math.nan
    return CorpusScore(profile=profile, raw=total, windows=n_windows, score=score, files=per_file)


def group_scores(files: list[NabFile], corpus: CorpusScore) -> dict[str, dict[str, Any]]:
    """Per group (a file's folder): raw score, windows, tp/fn/fp and, for a group with
    windows, its own normalised score (null 0, perfect 100), as the corpus is normalised.

    Groups are reported apart because they fail differently (a group without windows can
    only lose points, through false positives), and because the held-out groups differ.
    """
    a_tp, _a_fp, a_fn = PROFILES[corpus.profile]
    groups: dict[str, dict[str, Any]] = {}
    for nab in files:
        fs = corpus.files.get(nab.key)
        if fs is None or nab.windows is None:
            continue
        group = groups.setdefault(
            nab.key.split("/")[0], {"files": 0, "windows": 0, "raw": 0.0, "tp": 0, "fn": 0, "fp": 0}
        )
        group["files"] += 1
        group["windows"] += len(nab.windows)
        group["raw"] += fs.raw
        group["tp"] += fs.tp
        group["fn"] += fs.fn
        group["fp"] += fs.fp
    for group in groups.values():
        w = group["windows"]
        normalised = 100.0 * (group["raw"] + a_fn * w) / ((a_tp + a_fn) * w) if w else None
        group["score"] = None if normalised is None else round(normalised, 2)
        group["raw"] = round(group["raw"], 3)
    return dict(sorted(groups.items()))


def pointwise(
    files: list[NabFile], scores: dict[str, FloatArray], alarms: dict[str, BoolArray]
) -> dict[str, float]:
    """Row-wise precision, recall, F1 of alarms and AUC-PR of scores (rows in windows = 1)."""
    truth_parts, alarm_parts, score_parts = [], [], []
    for nab in files:
        if nab.windows is None:
            continue
        start = probation(len(nab.t))
        truth = np.zeros(len(nab.t), dtype=bool)
        for s, e in nab.windows:
            truth[s : e + 1] = True
        truth_parts.append(truth[start:])
        alarm_parts.append(alarms[nab.key][start:])
        score_parts.append(np.nan_to_num(scores[nab.key][start:], nan=0.0))
    if not truth_parts:
        return {}
    truth = np.concatenate(truth_parts)
    alarm = np.concatenate(alarm_parts)
    tp = float(np.sum(truth & alarm))
    precision = tp / max(float(alarm.sum()), 1.0)
    recall = tp / max(float(truth.sum()), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "auc_pr": average_precision(truth, np.concatenate(score_parts)),
    }


def average_precision(truth: BoolArray, score: FloatArray) -> float:
    """Area under the precision-recall curve, as the mean precision at each true row."""
    positives = float(truth.sum())
    if positives == 0:
        return math.nan
    order = np.argsort(-score, kind="stable")
    s, y = score[order], truth[order]
    tp, fp = np.cumsum(y), np.cumsum(~y)
    # Ties share one operating point: evaluate at the last row of each run of equal scores.
    last = np.r_[s[1:] != s[:-1], True]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall_gain = np.diff(np.r_[0.0, tp]) / positives
    return float(np.sum(precision * recall_gain))


# -- running detectors ----------------------------------------------------------------


@dataclass
class Run:
    name: str
    scores: dict[str, FloatArray]
    alarms: dict[str, BoolArray]
    drivers: dict[str, FloatArray] = field(default_factory=dict)
    detector: Detector | None = None


def run_bank(files: list[NabFile], name: str, config: Any) -> Run:
    """Run a ``SeriesDetectorBank`` over all files at once; each file is one series."""
    from opscope.analyze.metrics.bank import SeriesDetectorBank

    bank = SeriesDetectorBank(config)
    series = [nab.key for nab in files for _ in range(len(nab.t))]
    t = np.concatenate([nab.t for nab in files])
    x = np.concatenate([nab.values for nab in files])
    result = bank.score_arrays(series, t, x)
    scores: dict[str, FloatArray] = {}
    alarms: dict[str, BoolArray] = {}
    drivers: dict[str, FloatArray] = {}
    start = 0
    for nab in files:
        end = start + len(nab.t)
        scores[nab.key] = np.nan_to_num(result.score[start:end], nan=0.0)
        alarms[nab.key] = result.alarm[start:end]
        drivers[nab.key] = result.driver[start:end]
        start = end
    return Run(name=name, scores=scores, alarms=alarms, drivers=drivers, detector=bank.detector)


def run_with_verdicts(files: list[NabFile], name: str, config: Any) -> Run:
    """Run the bank as ``run_bank`` does, with an operator who calls every alarm raised
    outside a labelled window (after the probationary period) a false alarm before the
    next sample arrives; the bank tolerates it (``SeriesDetectorBank.tolerate``).

    Rows go in lockstep (the k-th row of every file in one batch), so that a verdict
    reaches the series before its next sample: a replay of what verdicts quiet, not of
    what the detector finds unaided.
    """
    from opscope.analyze.metrics.bank import SeriesDetectorBank

    bank = SeriesDetectorBank(config)
    scores = {nab.key: np.zeros(len(nab.t)) for nab in files}
    alarms = {nab.key: np.zeros(len(nab.t), dtype=bool) for nab in files}
    drivers = {nab.key: np.full(len(nab.t), np.nan) for nab in files}
    inside = {nab.key: np.zeros(len(nab.t), dtype=bool) for nab in files}
    for nab in files:
        for s, e in nab.windows or []:
            inside[nab.key][s : e + 1] = True
    for row in range(max((len(nab.t) for nab in files), default=0)):
        live = [nab for nab in files if row < len(nab.t)]
        result = bank.score_arrays([nab.key for nab in live], [nab.t[row] for nab in live],
                                   [nab.values[row] for nab in live])
        for j, nab in enumerate(live):
            scores[nab.key][row] = np.nan_to_num(result.score[j], nan=0.0)
            alarms[nab.key][row] = result.alarm[j]
            drivers[nab.key][row] = result.driver[j]
            false_alarm = nab.windows is not None and not inside[nab.key][row]
            if result.alarm[j] and false_alarm and row >= probation(len(nab.t)):
                bank.tolerate(nab.key, float(result.driver[j]), float(result.level[j]))
    return Run(name=name, scores=scores, alarms=alarms, drivers=drivers, detector=bank.detector)


def alarms_by_driver(files: list[NabFile], run: Run) -> dict[str, dict[str, int]]:
    """Alarms after the probationary period, inside and outside windows, by the view of the
    detector that raised them (for a detector of several views): where false alarms come
    from, and which views find the windows."""
    counts: dict[str, dict[str, int]] = {}
    for nab in files:
        if nab.windows is None or nab.key not in run.drivers:
            continue
        for i in np.flatnonzero(run.alarms[nab.key]).tolist():
            if i < probation(len(nab.t)):
                continue
            view = run.detector.driver(float(run.drivers[nab.key][i])) if run.detector else None
            key = view[0] if view is not None else "unnamed"
            inside = any(s <= i <= e for s, e in nab.windows)
            entry = counts.setdefault(key, {"inside": 0, "outside": 0})
            entry["inside" if inside else "outside"] += 1
    return dict(sorted(counts.items()))


def default_config() -> Any:
    from opscope.analyze.metrics.bank import BankConfig

    return BankConfig()


def baseline_config() -> Any:
    """Trailing-window z-score over one day of 5-minute samples, alarm at 5 sigma.

    It shares the default alarm policy (the same hold-off), so that the comparison is
    between detectors, not between alarm policies.
    """
    from opscope.analyze.metrics.alarm import AlarmConfig, AlarmRules
    from opscope.analyze.metrics.bank import BankConfig

    alarm = AlarmConfig(half=5.0, threshold=0.5)
    return BankConfig(
        detector="zscore", detector_config={"window": 288}, alarms=AlarmRules(default=alarm)
    )


def save_predictions(files: list[NabFile], run: Run, out: Path) -> None:
    for nab in files:
        target = out / nab.key
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "value", "score", "alarm"])
            for ts, value, score, alarm in zip(
                nab.timestamps, nab.values.tolist(), run.scores[nab.key].tolist(),
                run.alarms[nab.key].tolist(), strict=True,
            ):
                writer.writerow([ts, repr(value), f"{score:.6f}", int(alarm)])


def evaluate(files: list[NabFile], run: Run) -> dict[str, Any]:
    report: dict[str, Any] = {"detector": run.name, "profiles": {}}
    for profile in PROFILES:
        corpus = score_corpus(files, run.alarms, profile)
        report["profiles"][profile] = {
            "score": round(corpus.score, 2), "raw": round(corpus.raw, 3), "windows": corpus.windows,
            "groups": group_scores(files, corpus),
        }
        if profile == "standard":
            report["files"] = {
                key: {"raw": round(f.raw, 3), "tp": f.tp, "fn": f.fn, "fp": f.fp}
                for key, f in corpus.files.items()
            }
    point = pointwise(files, run.scores, run.alarms)
    report["pointwise"] = {k: round(v, 4) for k, v in point.items()}
    if run.detector is not None and run.detector.drivers():
        report["alarms_by_driver"] = alarms_by_driver(files, run)
    return report


def nab_command(
    data: Annotated[Path, typer.Option("--data", help="The NAB folder (data/, labels/).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    save: Annotated[
        Path | None,
        typer.Option("--save-predictions", help="Write <group>/<file>.csv with score and alarm."),
    ] = None,
    per_file: Annotated[
        bool, typer.Option("--per-file", help="Also list per-file scores.")
    ] = False,
    cut: Annotated[
        list[int] | None,
        typer.Option(
            "--cut",
            help="Also score every file cut to its first and to its last N rows (repeatable): "
            "a check of short and young streams on the same labelled data.",
        ),
    ] = None,
    thin_by: Annotated[
        list[int] | None,
        typer.Option(
            "--thin",
            help="Also score every file thinned to every K-th row (repeatable): a check of "
            "coarser cadences (K=3 turns 5-minute files into 15-minute ones).",
        ),
    ] = None,
    verdicts: Annotated[
        bool,
        typer.Option("--verdicts", help="Also replay the default ensemble with an operator who "
                     "calls every alarm outside a window a false alarm as it is raised."),
    ] = False,
    fine_by: Annotated[
        list[int] | None,
        typer.Option(
            "--fine",
            help="Also score every file with K samples per row (repeatable), each row's value "
            "repeated, alarms folded back onto the rows: a check of finer cadences (K=20 "
            "is a 5-minute source scraped every 15 seconds).",
        ),
    ] = None,
) -> None:
    """Run the default metric detector over NAB data and print NAB scores."""
    files, labelled = load_corpus(data)
    if not files:
        raise typer.BadParameter(f"{data}/data holds no CSV files")
    runs = [
        run_bank(files, "default ensemble", default_config()),
        run_bank(files, "baseline: trailing z-score", baseline_config()),
    ]
    if verdicts and labelled:
        runs.append(run_with_verdicts(files, "default ensemble, false alarms dismissed as "
                                      "raised", default_config()))
    if save is not None:
        save_predictions(files, runs[0], save)
    rows = sum(len(f.t) for f in files)
    if not labelled:
        message = f"{len(files)} files, {rows} rows scored; no labels/windows.json: cannot score."
        if as_json:
            typer.echo(json.dumps({"files": len(files), "rows": rows, "scored": False}))
        else:
            typer.echo(message)
        return
    reports = [evaluate(files, run) for run in runs]
    variants = [(f"{keep} {n}", [truncate(f, n, keep) for f in files], 1)
                for n in cut or [] for keep in ("head", "tail")]
    variants += [(f"every {k} rows", [thin(f, k) for f in files], 1) for k in thin_by or []]
    variants += [(f"{k} samples per row", [fine(f, k) for f in files], k)
                 for k in fine_by or []]
    cuts = variant_scores(variants, files)
    if as_json:
        document = {"files": len(files), "rows": rows, "runs": reports, "cuts": cuts}
        typer.echo(json.dumps(document, indent=2))
        return
    windows = reports[0]["profiles"]["standard"]["windows"]
    typer.echo(f"NAB: {len(files)} files, {rows} rows, {windows} windows")
    for report in reports:
        typer.echo(f"\n{report['detector']}")
        for profile, values in report["profiles"].items():
            typer.echo(f"  {profile:<20} {values['score']:7.2f}   (raw {values['raw']:.3f})")
        for group, g in report["profiles"]["standard"]["groups"].items():
            score = "   n/a" if g["score"] is None else f"{g['score']:6.2f}"
            typer.echo(
                f"    {group:<24} standard {score}  raw {g['raw']:7.3f}  windows {g['windows']:>2}"
                f"  tp {g['tp']:>2} fn {g['fn']:>2} fp {g['fp']:>2}"
            )
        point = report["pointwise"]
        typer.echo(
            "  point-wise: precision {precision:.3f} recall {recall:.3f} F1 {f1:.3f} "
            "AUC-PR {auc_pr:.3f}".format(**point)
        )
        if report.get("alarms_by_driver"):
            counts = ", ".join(
                f"{key} {c['inside']}/{c['outside']}"
                for key, c in report["alarms_by_driver"].items()
            )
            typer.echo(f"  alarms by the member that raised them (in / outside windows): {counts}")
        if per_file:
            for key, f in report["files"].items():
                typer.echo(
                    f"    {key:<55} raw {f['raw']:7.3f} tp {f['tp']} fn {f['fn']} fp {f['fp']}"
                )
    for cut_name, by_run in cuts.items():
        kind = ("thinned to" if cut_name.startswith("every") else
                "given" if cut_name.endswith("per row") else "cut to")
        typer.echo(f"\n{kind} {cut_name}")
        for run_name, values in by_run.items():
            scores = " / ".join(
                "   n/a" if v["score"] is None else f"{v['score']:6.2f}"
                for v in values["profiles"].values()
            )
            typer.echo(
                f"  {run_name:<28} {scores}   (windows {values['windows']}, "
                f"fn {values['fn']}, fp {values['fp']})"
            )


def variant_scores(variants: list[tuple[str, list[NabFile], int]],
                   originals: list[NabFile]) -> dict[str, dict[str, Any]]:
    """Scores of both runs on each variant of the corpus (cut with ``truncate``, thinned
    with ``thin``, or given ``k`` samples per row with ``fine`` and scored on the
    ``originals`` through ``fold``), by the variant's name."""
    result: dict[str, dict[str, Any]] = {}
    for variant, cut, k in variants:
        by_run: dict[str, Any] = {}
        for name, config in (
            ("default ensemble", default_config()),
            ("baseline: trailing z-score", baseline_config()),
        ):
            run = run_bank(cut, name, config)
            scored, alarms = cut, run.alarms
            if k > 1:
                scored, alarms = originals, {key: fold(a, k) for key, a in alarms.items()}
            profiles = {p: score_corpus(scored, alarms, p) for p in PROFILES}
            standard = profiles["standard"]
            by_run[name] = {
                # No window left (a cut that kept only the quiet part): no score.
                "profiles": {
                    p: {"score": round(c.score, 2) if c.windows else None}
                    for p, c in profiles.items()
                },
                "windows": standard.windows,
                "fn": sum(f.fn for f in standard.files.values()),
                "fp": sum(f.fp for f in standard.files.values()),
            }
        result[variant] = by_run
    return result
