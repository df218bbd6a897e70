"""Grafana unified alerting webhook receiver.

Grafana's contact-point webhook sends Alertmanager's group shape (``version`` "1") with
extra per-alert fields. Those that help an operator — links to the silence form, the
dashboard and the panel, and the evaluated query values — are kept as annotations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opscope.collect.alertmanager import MAX_ALERTS, parse_webhook_group
from opscope.collect.batch import BatchResult
from opscope.model import Event

GRAFANA_EXTRAS = ("silenceURL", "dashboardURL", "panelURL", "imageURL", "valueString", "values")


def parse_grafana(
    doc: Any, received_at: datetime, source: str = "grafana", *, max_alerts: int = MAX_ALERTS,
) -> BatchResult[Event]:
    """One Event per alert, as :func:`~opscope.collect.alertmanager.parse_alertmanager`.

    ``values`` (a map of query refId to number) is kept as a JSON string annotation.
    """
    return parse_webhook_group(
        doc, received_at, source, versions=("1",), extra_annotations=GRAFANA_EXTRAS,
        max_alerts=max_alerts,
    )
