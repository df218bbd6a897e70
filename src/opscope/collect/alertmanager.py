"""Prometheus Alertmanager webhook receiver (webhook payload version "4").

Alertmanager sends a *group* of alerts per notification. Each alert becomes one
:class:`~opscope.model.Event`; the pair (source, fingerprint) makes a later notification
for the same alert an update (resolved, end time) rather than a new event.

Grafana's unified alerting sends the same shape with a few extra fields; both go through
:func:`parse_webhook_group`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import orjson

from opscope.collect.batch import BatchResult, kind_of, validate_items
from opscope.errors import PayloadTooLarge
from opscope.model import Event, Severity, entity_of, parse_severity

MAX_ALERTS = 10_000

# Alertmanager (Go) writes the zero time for "no end known yet".
_GO_ZERO_TIME = "0001-01-01"

# Where each Event field comes from in the payload, so problems name what the sender wrote.
_PAYLOAD_FIELD = {
    "name": "labels.alertname",
    "starts_at": "startsAt",
    "ends_at": "endsAt",
    "status": "status",
    "fingerprint": "fingerprint",
    "summary": "annotations.summary",
    "entity": "labels",
    "source": "$",
    "received_at": "$",
}


def parse_alertmanager(
    doc: Any, received_at: datetime, source: str = "alertmanager", *,
    max_alerts: int = MAX_ALERTS,
) -> BatchResult[Event]:
    """One Event per alert of an Alertmanager webhook notification.

    * ``name`` is ``labels.alertname``; an alert without it is a problem.
    * ``fingerprint`` is the alert's own, or derived from source, name, entity and labels.
    * ``severity`` is read from ``labels.severity``; an unknown or missing spelling gives
      ``warning`` (the label itself is kept as sent).
    * ``entity`` is the first non-empty label of entity, service, job, app, host,
      instance, pod, container (the same rule as for metrics).
    * ``summary`` is ``annotations.summary``, else ``description``, else ``message``.
    * ``endsAt`` equal to Go's zero time (``0001-01-01T00:00:00Z``) means no end: ``None``.
    * ``version`` other than "4" rejects the whole notification; a missing one is accepted.
    """
    return parse_webhook_group(doc, received_at, source, versions=("4",), max_alerts=max_alerts)


def parse_webhook_group(
    doc: Any,
    received_at: datetime,
    source: str,
    *,
    versions: Collection[str],
    extra_annotations: Collection[str] = (),
    max_alerts: int = MAX_ALERTS,
) -> BatchResult[Event]:
    """Parse an Alertmanager-shaped notification: ``{"version", "status", "alerts": [...]}``.

    ``extra_annotations`` names per-alert fields (such as Grafana's ``dashboardURL``) that
    are kept as annotations when present and non-empty.
    """
    result: BatchResult[Event] = BatchResult()
    if not isinstance(doc, dict):
        result.add_problem(None, "$", f"expected a JSON object, got {kind_of(doc)}")
        return result
    version = doc.get("version")
    if version is not None and str(version) not in versions:
        wanted = " or ".join(repr(v) for v in versions)
        result.add_problem(None, "version",
                           f"unsupported webhook version {str(version)[:20]!r}; expected {wanted}")
        return result
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        what = "missing" if alerts is None else f"{kind_of(alerts)}, not an array"
        result.add_problem(None, "alerts", f"alerts is {what}")
        return result
    if len(alerts) > max_alerts:
        raise PayloadTooLarge(f"notification has {len(alerts)} alerts; the limit is {max_alerts}",
                              count=len(alerts), limit=max_alerts)
    group_status = doc.get("status") if isinstance(doc.get("status"), str) else None

    candidates: list[dict[str, Any]] = []
    positions: list[int] = []
    for index, alert in enumerate(alerts):
        candidate = _candidate(alert, index, group_status, extra_annotations, result)
        if candidate is not None:
            candidates.append(candidate)
            positions.append(index)
    checked = validate_items(Event, candidates, max_items=max_alerts,
                             defaults={"source": source, "received_at": received_at})
    result.items = checked.items
    for problem in checked.problems:
        at = positions[problem.index] if problem.index is not None else None
        head, _, rest = problem.field.partition(".")
        where = problem.field if rest and head in ("labels", "annotations") else (
            _PAYLOAD_FIELD.get(head, problem.field))
        message = problem.message
        if where == "$" and "ends_at" in message:
            where, message = "endsAt", "endsAt is before startsAt"
        result.add_problem(at, where, message)
    result.problems.sort(key=lambda p: (p.index is None, p.index or 0))
    return result


def _candidate(
    alert: Any, index: int, group_status: str | None, extra: Collection[str],
    result: BatchResult[Event],
) -> dict[str, Any] | None:
    """The Event fields for one alert, or None (with a problem recorded) if it has none."""
    if not isinstance(alert, dict):
        result.add_problem(index, "$", f"alert must be an object, got {kind_of(alert)}")
        return None
    labels = alert.get("labels")
    if not isinstance(labels, dict):
        result.add_problem(index, "labels", "labels must be an object")
        return None
    annotations = alert.get("annotations")
    if annotations is None:
        annotations = {}
    if not isinstance(annotations, dict):
        result.add_problem(index, "annotations", "annotations must be an object")
        return None
    name = labels.get("alertname")
    if not isinstance(name, str) or not name:
        result.add_problem(index, "labels.alertname", "alertname label is missing or empty")
        return None
    string_labels = {k: v for k, v in labels.items() if isinstance(v, str)}
    candidate: dict[str, Any] = {
        "name": name,
        "status": alert.get("status") or group_status or "firing",
        "severity": parse_severity(labels.get("severity"), default=Severity.WARNING),
        "entity": entity_of(string_labels)[:256],
        "summary": _summary(annotations),
        "labels": labels,
        "annotations": _with_extras(alert, annotations, extra),
        "starts_at": alert.get("startsAt"),
    }
    if "startsAt" not in alert:
        del candidate["starts_at"]  # let validation say the field is required
    fingerprint = alert.get("fingerprint")
    if fingerprint:
        candidate["fingerprint"] = fingerprint
    ends_at = alert.get("endsAt")
    if not (ends_at is None or (isinstance(ends_at, str) and ends_at.startswith(_GO_ZERO_TIME))):
        candidate["ends_at"] = ends_at
    return candidate


def _summary(annotations: Mapping[str, Any]) -> str:
    for key in ("summary", "description", "message"):
        value = annotations.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _with_extras(alert: Mapping[str, Any], annotations: dict[str, Any],
                 extra: Collection[str]) -> dict[str, Any]:
    """Annotations plus the sender's links (generatorURL, ...) when they fit the limits."""
    out = dict(annotations)
    for key in ("generatorURL", *extra):
        value = alert.get(key)
        if value in (None, "", {}, []) or key in out or len(out) >= 64:
            continue
        try:
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
        except orjson.JSONEncodeError:  # nested too deep to be a useful annotation
            continue
        if len(text) <= 4096:
            out[key] = text
    return out
