"""Automated reaction: rules (trigger -> condition -> actions), routing, policies, audit.

Public API: :class:`ReactionEngine` with :class:`ReactPorts` and :class:`ReactSettings`;
rules from :func:`load_rules` / :func:`parse_rules` / :func:`rules_from_data`; triggers
from :func:`trigger_from_fields`. See ``engine`` for the flow and ``gates`` for the
policy stages.
"""

from opscope.react.engine import Match, ReactionEngine, ReactPorts, idempotency_key
from opscope.react.history import JsonFileHistory
from opscope.react.memory import ManualClock, SystemClock
from opscope.react.ports import (
    ActionState,
    ApprovalStore,
    AuditLog,
    AuditQuery,
    Clock,
    HistorySource,
    IncidentAnnotator,
    NotificationLog,
)
from opscope.react.replay import ReplayHit, replay
from opscope.react.rules import (
    RuleError,
    RuleSet,
    load_rules,
    merge_rulesets,
    parse_rules,
    rules_from_data,
)
from opscope.react.settings import ReactSettings
from opscope.react.triggers import Trigger, TriggerKind, event_trigger, trigger_from_fields

__all__ = [
    "ActionState",
    "ApprovalStore",
    "AuditLog",
    "AuditQuery",
    "Clock",
    "HistorySource",
    "IncidentAnnotator",
    "JsonFileHistory",
    "ManualClock",
    "Match",
    "NotificationLog",
    "ReactPorts",
    "ReactSettings",
    "ReactionEngine",
    "ReplayHit",
    "RuleError",
    "RuleSet",
    "SystemClock",
    "Trigger",
    "TriggerKind",
    "event_trigger",
    "idempotency_key",
    "load_rules",
    "merge_rulesets",
    "parse_rules",
    "replay",
    "rules_from_data",
    "trigger_from_fields",
]
