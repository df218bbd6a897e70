"""Pattern discovery over alert and incident history (batch).

Which alert types fire together or in sequence (``co_occurrences``, ``sequences``),
which incidents recur (``recurring_incidents``), which alerts fire on a schedule and the
silence that would cover them (``periodic_alerts``), and which alerts never lead to
action (``idle_alerts``).
"""

from collections.abc import Mapping, Sequence

from opscope.analyze.patterns.association import co_occurrences, sequences
from opscope.analyze.patterns.findings import (
    AssociationRule,
    IdleAlert,
    PeriodicAlert,
    RecurringIncident,
    SuggestedSilence,
)
from opscope.analyze.patterns.inaction import idle_alerts
from opscope.analyze.patterns.occurrence import Occurrence, name_key, occurrences, type_key
from opscope.analyze.patterns.periodic import periodic_alerts
from opscope.analyze.patterns.recurring import recurring_incidents
from opscope.model import Event
from opscope.model.base import Record
from opscope.model.incident import Incident, IncidentMember

SECTIONS = ("co_occurring", "sequences", "recurring_incidents", "periodic_alerts",
            "idle_alerts")
"""The kinds of pattern :func:`discover` reports, in the order it reports them."""


def discover(events: Sequence[Event], incidents: Sequence[Incident],
             members: Mapping[str, Sequence[IncidentMember]]) -> dict[str, list[Record]]:
    """Every kind of pattern over one stretch of history, by section name."""
    found: dict[str, list[Record]] = {
        "co_occurring": list(co_occurrences(events)),
        "sequences": list(sequences(events)),
        "recurring_incidents": list(recurring_incidents(incidents, members)),
        "periodic_alerts": list(periodic_alerts(events)),
        "idle_alerts": list(idle_alerts(events, incidents, members)),
    }
    return found

__all__ = [
    "SECTIONS", "AssociationRule", "IdleAlert", "Occurrence", "PeriodicAlert",
    "RecurringIncident", "SuggestedSilence", "co_occurrences", "discover", "idle_alerts",
    "name_key", "occurrences", "periodic_alerts", "recurring_incidents", "sequences",
    "type_key",
]
