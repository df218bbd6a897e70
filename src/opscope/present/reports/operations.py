"""The operations report: what happened in a time window, for a weekly review.

:func:`build_report` reads the store (incidents opened in the window with their
operator actions, the alerts seen in it, the anomalies and the automated reactions) and
answers a JSON-ready document:

- ``incidents``: opened, resolved, still open, by severity; time to acknowledge and time
  to resolve (median, 90th percentile, mean, how many); recurrences and merges; the
  entities most often ranked first as the cause; the user-facing services most often
  impacted; the longest incidents.
- ``alerts``: distinct alerts and the notifications they folded, how many fired again
  after resolving, the noisiest, and the **noise reduction**: alerts per incident.
- ``anomalies``: by kind and by entity, and the operators' verdicts on them (false alarms
  and confirmed, by what was unusual).
- ``reactions``: actions considered, by outcome and by action kind.

Every read is bounded (``max_rows``); a document whose reads hit the bound says so in
``capped``, so a figure is never silently short. :func:`render_markdown` turns the
document into Markdown for chat, email and tickets.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from opscope.model.units import duration
from opscope.store.ports import (
    EventQuery,
    ExecutionQuery,
    IncidentQuery,
    Page,
    RecordQuery,
    Row,
    Store,
    TimeRange,
    read_pages,
)

TOP = 10


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _spread(seconds: list[float]) -> Row:
    """Median, 90th percentile, mean and count of durations in seconds."""
    if not seconds:
        return {"count": 0, "median": None, "p90": None, "mean": None}
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * (len(ordered) - 1) + 0.5))]
    return {"count": len(ordered), "median": statistics.median(ordered), "p90": p90,
            "mean": statistics.fmean(ordered)}


def _top(counter: Counter[str], n: int = TOP) -> list[Row]:
    return [{"name": name, "count": count} for name, count in counter.most_common(n)]


def _first_action(detail: Row | None, action: str) -> datetime | None:
    times = [_time(a.get("ts")) for a in (detail or {}).get("actions", [])
             if a.get("action") == action]
    found = [t for t in times if t is not None]
    return min(found) if found else None


def _incidents(store: Store, span: TimeRange, end: datetime, cap: int) -> tuple[Row, bool]:
    rows, capped = read_pages(lambda limit, cursor: store.query_incidents(
        IncidentQuery(span, limit=limit, cursor=cursor)), cap)
    rows = [r for r in rows if not r.get("merged_into")]  # counted in the incident they joined
    severity: Counter[str] = Counter(str(r.get("severity")) for r in rows)
    causes: Counter[str] = Counter()
    impact: Counter[str] = Counter()
    to_ack: list[float] = []
    to_resolve: list[float] = []
    longest: list[tuple[float, Row]] = []
    for row in rows:
        opened = _time(row.get("opened_at"))
        top = row.get("top_hypothesis") or {}
        if isinstance(top, dict) and top.get("entity"):
            causes[str(top["entity"])] += 1
        impact.update(str(s) for s in row.get("impact") or [])
        detail = store.get_incident(str(row["id"])) if row.get("acknowledged_by") else None
        acked = _first_action(detail, "ack")
        resolved = _time(row.get("resolved_at"))
        if opened is not None and acked is not None and acked >= opened:
            to_ack.append((acked - opened).total_seconds())
        if opened is not None and resolved is not None and resolved >= opened:
            to_resolve.append((resolved - opened).total_seconds())
        if opened is not None:
            lasted = ((resolved or end) - opened).total_seconds()
            longest.append((lasted, row))
    longest.sort(key=lambda pair: -pair[0])
    return {
        "opened": len(rows),
        "resolved": sum(1 for r in rows if r.get("status") == "resolved"),
        "open": sum(1 for r in rows if r.get("status") != "resolved"),
        "by_severity": dict(severity),
        "recurrences": sum(1 for r in rows if r.get("recurrence_of")),
        "time_to_acknowledge_s": _spread(to_ack),
        "time_to_resolve_s": _spread(to_resolve),
        "top_causes": _top(causes),
        "top_impact": _top(impact),
        "longest": [{"id": r["id"], "title": r.get("title", ""), "severity": r.get("severity"),
                     "status": r.get("status"), "seconds": round(s, 1)}
                    for s, r in longest[:5]],
    }, capped


def _alerts(store: Store, span: TimeRange, cap: int) -> tuple[Row, bool]:
    rows, capped = read_pages(lambda limit, cursor: store.query_events(
        EventQuery(span, limit=limit, cursor=cursor)), cap)
    # A stored alert counts the notifications after its first in repeat_count.
    notifications = sum(1 + int(r.get("repeat_count") or 0) for r in rows)
    names: Counter[str] = Counter()
    for r in rows:
        key = f"{r.get('name') or r.get('fingerprint')} on {r.get('entity') or '?'}"
        names[key] += 1 + int(r.get("repeat_count") or 0)
    return {
        "distinct": len(rows),
        "notifications": notifications,
        "fired_again": sum(1 for r in rows if int(r.get("reopen_count") or 0) > 0),
        "by_severity": dict(Counter(str(r.get("severity")) for r in rows)),
        "noisiest": _top(names),
    }, capped


def _anomalies(store: Store, span: TimeRange, cap: int) -> tuple[Row, bool]:
    rows, capped = read_pages(lambda limit, cursor: store.query_anomalies(
        RecordQuery(span, limit=limit, cursor=cursor)), cap)
    return {
        "total": len(rows),
        "by_kind": dict(Counter(str(r.get("kind")) for r in rows)),
        "top_entities": _top(Counter(str(r.get("entity") or "?") for r in rows)),
        "verdicts": _verdicts(store, rows),
    }, capped


def _verdicts(store: Store, anomalies: list[Row]) -> Row:
    """Operators' latest verdict on each anomaly of the window: how many were judged, and
    by what was unusual (a metric anomaly's ``evidence.driver``, else its kind), how many
    were false alarms: where the detectors' noise comes from."""
    latest: dict[str, str] = {}
    ids = [str(r["id"]) for r in anomalies]
    for start in range(0, len(ids), _VERDICT_IDS):
        for anomaly_id, given in store.anomaly_verdicts(ids[start:start + _VERDICT_IDS]).items():
            latest[anomaly_id] = str(given[0]["verdict"])  # newest first
    by_view: dict[str, Counter[str]] = {}
    for row in anomalies:
        verdict = latest.get(str(row["id"]))
        if verdict is None:
            continue
        evidence = row.get("evidence")
        driver = evidence.get("driver") if isinstance(evidence, dict) else None
        view = str(driver or row.get("kind"))
        by_view.setdefault(view, Counter())[verdict] += 1
    counts = Counter(latest.values())
    return {
        "judged": len(latest),
        "false_alarm": counts["false_alarm"],
        "confirmed": counts["confirmed"],
        "by_view": [{"name": name, "false_alarm": c["false_alarm"], "confirmed": c["confirmed"]}
                    for name, c in sorted(by_view.items(),
                                          key=lambda kv: (-kv[1]["false_alarm"], kv[0]))],
    }


def _reactions(store: Store, span: TimeRange, cap: int) -> tuple[Row, bool]:
    # Only stores that keep the reaction audit answer this; others report none.
    query: Callable[[ExecutionQuery], Page] | None = getattr(store, "query_executions", None)
    if query is None:
        return {"considered": 0, "by_status": {}, "by_action_kind": {}, "top_rules": []}, False
    rows, capped = read_pages(lambda limit, cursor: query(
        ExecutionQuery(since=span.start, until=span.end, limit=limit, cursor=cursor)), cap)
    return {
        "considered": len(rows),
        "by_status": dict(Counter(str(r.get("status")) for r in rows)),
        "by_action_kind": dict(Counter(str(r.get("action_kind")) for r in rows)),
        "top_rules": _top(Counter(str(r.get("rule")) for r in rows)),
    }, capped


_VERDICT_IDS = 1_000
"""Anomaly ids per read of their verdicts."""


def build_report(store: Store, start: datetime, end: datetime, max_rows: int = 20_000) -> Row:
    """The operations report for ``[start, end)``; see the module's description."""
    span = TimeRange(start, end)
    incidents, inc_capped = _incidents(store, span, end, max_rows)
    alerts, alert_capped = _alerts(store, span, max_rows)
    anomalies, anomaly_capped = _anomalies(store, span, max_rows)
    reactions, reaction_capped = _reactions(store, span, max_rows)
    opened = incidents["opened"]
    alerts["per_incident"] = round(alerts["distinct"] / opened, 2) if opened else None
    capped = [name for name, hit in (("incidents", inc_capped), ("alerts", alert_capped),
                                     ("anomalies", anomaly_capped),
                                     ("reactions", reaction_capped)) if hit]
    return {"start": start.isoformat(), "end": end.isoformat(), "incidents": incidents,
            "alerts": alerts, "anomalies": anomalies, "reactions": reactions,
            "capped": capped}


def _duration(seconds: float | None) -> str:
    return "n/a" if seconds is None else duration(seconds)


def _cell(value: Any) -> str:
    # Names come from alerts and services: keep them from breaking the table.
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(head: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return lines if len(lines) > 2 else ["(none)"]


def render_markdown(report: Row) -> str:
    inc, alerts = report["incidents"], report["alerts"]
    anomalies, reactions = report["anomalies"], report["reactions"]
    ack, res = inc["time_to_acknowledge_s"], inc["time_to_resolve_s"]
    lines = [
        f"# Operations report {report['start'][:16]} to {report['end'][:16]}",
        "",
        "## Incidents",
        "",
        f"- opened **{inc['opened']}**, resolved {inc['resolved']}, still open {inc['open']}, "
        f"recurrences {inc['recurrences']}",
        "- by severity: " + (", ".join(f"{k} {v}" for k, v in sorted(
            inc["by_severity"].items())) or "none"),
        f"- time to acknowledge: median {_duration(ack['median'])}, "
        f"90th percentile {_duration(ack['p90'])} ({ack['count']} acknowledged)",
        f"- time to resolve: median {_duration(res['median'])}, "
        f"90th percentile {_duration(res['p90'])} ({res['count']} resolved)",
        "",
        "Most often ranked as the cause:",
        "",
        *_table(("entity", "incidents"), ((t["name"], t["count"]) for t in inc["top_causes"])),
        "",
        "User-facing services most often impacted:",
        "",
        *_table(("service", "incidents"), ((t["name"], t["count"]) for t in inc["top_impact"])),
        "",
        "Longest:",
        "",
        *_table(("incident", "severity", "status", "lasted"),
                ((f"{x['id']} {x['title']}", x["severity"], x["status"],
                  _duration(x["seconds"])) for x in inc["longest"])),
        "",
        "## Alerts",
        "",
        f"- {alerts['distinct']} distinct alerts from {alerts['notifications']} notifications; "
        f"{alerts['fired_again']} fired again after resolving",
        f"- alerts per incident: {alerts['per_incident'] if alerts['per_incident'] else 'n/a'}",
        "",
        *_table(("noisiest alert", "notifications"),
                ((t["name"], t["count"]) for t in alerts["noisiest"])),
        "",
        "## Anomalies",
        "",
        f"- {anomalies['total']} in all: " + (", ".join(
            f"{k} {v}" for k, v in sorted(anomalies["by_kind"].items())) or "none"),
        f"- judged by operators: {anomalies['verdicts']['judged']} "
        f"({anomalies['verdicts']['false_alarm']} false alarms, "
        f"{anomalies['verdicts']['confirmed']} confirmed)",
        "",
        *_table(("what was unusual", "false alarms", "confirmed"),
                ((v["name"], v["false_alarm"], v["confirmed"])
                 for v in anomalies["verdicts"]["by_view"])),
        "",
        "## Automated reactions",
        "",
        f"- {reactions['considered']} actions considered: " + (", ".join(
            f"{k} {v}" for k, v in sorted(reactions["by_status"].items())) or "none"),
    ]
    if report["capped"]:
        lines += ["", f"_Read limit reached for: {', '.join(report['capped'])}; "
                      "figures for those cover the newest rows only._"]
    return "\n".join(lines) + "\n"
