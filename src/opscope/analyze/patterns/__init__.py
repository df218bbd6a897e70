"""Pattern discovery over alert and incident history (batch).

Which alert types fire together or in sequence (``co_occurrences``, ``sequences``),
which incidents recur (``recurring_incidents``), which alerts fire on a schedule and the
silence that would cover them (``periodic_alerts``), and which alerts never lead to
action (``idle_alerts``).
"""

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

__all__ = [
    "AssociationRule", "IdleAlert", "Occurrence", "PeriodicAlert", "RecurringIncident",
    "SuggestedSilence", "co_occurrences", "idle_alerts", "name_key", "occurrences",
    "periodic_alerts", "recurring_incidents", "sequences", "type_key",
]
