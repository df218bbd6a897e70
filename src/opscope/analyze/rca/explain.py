"""Turn the ranker's numbers into evidence items and a one-sentence reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from opscope.analyze.rca.inputs import RcaInputs
from opscope.analyze.rca.shift import Shift
from opscope.model.hypothesis import Evidence
from opscope.model.units import quantities

_SHIFTS_SHOWN = 3



# A series that never varied in its reference gives an unbounded z-score; past this it
# reads as "far outside" rather than as a meaningless 13-digit number.
_SIGMA_SHOWN_MAX = 10_000.0


def _sigmas(value: float, *, signed: bool = True) -> str:
    if abs(value) >= _SIGMA_SHOWN_MAX:
        word = ("+" if value > 0 else "-") if signed else ""
        return f"{word}>{_SIGMA_SHOWN_MAX:,.0f}"
    return f"{value:+.1f}" if signed else f"{value:.1f}"

def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def build_evidence(
    shifts: Sequence[Shift], peak: Shift | None, onset: float | None,
    supporters: Sequence[str], learned: Sequence[tuple[str, float]], inputs: RcaInputs,
    target: str | None, entity: str,
) -> list[Evidence]:
    """Evidence for one entity, strongest first."""
    out: list[Evidence] = []
    moved = sorted(
        (s for s in shifts if s.baseline is not None and s.value is not None and s.score > 0),
        key=lambda s: -s.score,
    )
    for s in moved[:_SHIFTS_SHOWN]:
        assert s.baseline is not None and s.value is not None  # filtered just above
        verb = "rose" if s.signed > 0 else "fell"
        now, normal = quantities(s.value, s.baseline.center, s.metric)
        out.append(Evidence(
            kind="metric_shift", subject=s.key, value=round(s.signed, 3),
            summary=(f"{s.metric} {verb} to {now} against a normal level of {normal} ("
                     + ("relative change, little normal history" if s.relative
                        else "robust z") + f" {_sigmas(s.signed)})"),
            ts=_when(s.onset) if s.onset is not None else None,
        ))
    if onset is not None:
        lag = onset - inputs.fault_time
        out.append(Evidence(
            kind="onset", subject=peak.key if peak else "", value=round(lag, 3),
            summary=f"first left its normal band {lag:+.0f} s from the incident start",
            ts=_when(onset),
        ))
    if supporters:
        names = ", ".join(supporters[:4]) + (" ..." if len(supporters) > 4 else "")
        src = inputs.topology_source or "configuration"
        out.append(Evidence(
            kind="topology", value=float(len(supporters)), subject=supporters[0],
            summary=(f"{len(supporters)} entities that depend on it (topology from {src}) "
                     f"are anomalous too: {names}"),
        ))
        if target is not None and target in supporters:
            out.append(Evidence(
                kind="target_link", subject=target,
                summary=f"the entity whose objective broke, {target}, depends on it",
            ))
    for other, corr in learned[:3]:
        out.append(Evidence(
            kind="co_movement", subject=other, value=round(corr, 3),
            summary=(f"moved together with {other} (|r| = {corr:.2f}); learned from "
                     "co-movement, no topology was given"),
        ))
    for ch in inputs.changes:
        if ch.entity == entity:
            lead = inputs.fault_time - ch.ts.timestamp()
            out.append(Evidence(
                kind="change", subject=ch.id or ch.version, value=round(lead, 3), ts=ch.ts,
                summary=(f"{ch.kind} {ch.version or ch.id or ''}".strip()
                         + f" {abs(lead):.0f} s {'before' if lead >= 0 else 'after'} the fault"),
            ))
    for rec in inputs.anomalies:
        if rec.entity == entity:
            out.append(Evidence(
                kind="log" if rec.kind.startswith("log") else "anomaly",
                subject=rec.subject or rec.id, value=rec.score, ts=rec.ts,
                summary=rec.summary or f"{rec.kind} raised by {rec.detector or 'a detector'}",
            ))
    return out


def build_reason(
    *, rank: int, degree: float, peak: Shift | None, supporters: Sequence[str],
    change: float, logs: float, topology: str, has_graph: bool, learned: bool,
    next_score: float | None, score: float,
) -> str:
    """One sentence saying why the entity sits at ``rank``."""
    parts: list[str] = []
    if peak is not None and degree > 0:
        parts.append(f"its {peak.metric} moved {_sigmas(peak.score, signed=False)} robust "
                     "sigmas from normal")
    elif peak is not None:
        parts.append(f"its largest move ({peak.metric}, {peak.score:.1f} sigmas) "
                     "stayed within the normal band")
    else:
        parts.append("none of its series could be compared with a normal reference")
    if supporters:
        parts.append(f"{len(supporters)} dependent "
                     f"{'entity is' if len(supporters) == 1 else 'entities are'} anomalous "
                     f"as well, which it would explain (topology from {topology})")
    elif has_graph and degree > 0:
        parts.append("no entity that depends on it shows a matching symptom")
    elif learned:
        parts.append("it co-moved with other suspects (learned, undirected)")
    if change > 0:
        parts.append("it was changed shortly before the onset")
    if logs > 0:
        parts.append("its logs show new or surging error templates")
    tail = ""
    if next_score is not None and score > 0 and next_score < score:
        tail = f", ahead of the next candidate by a factor {score / max(next_score, 1e-12):.2g}"
    body = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Rank {rank}: {body}{tail}."
