"""Action kinds, registered lazily by name: ``kind -> "module:Class"``.

Built-ins go through the same table a plugin would extend (:func:`register_action`), and
a module is imported only when a rule uses its kind.
"""

from __future__ import annotations

import importlib

from opscope.errors import ConfigError
from opscope.react.actions.base import Action, ActionConfig

ACTION_KINDS: dict[str, str] = {
    "webhook": "opscope.react.actions.webhook:WebhookAction",
    "runbook": "opscope.react.actions.runbook:RunbookAction",
    "slack": "opscope.react.actions.slack:SlackAction",
    "pagerduty": "opscope.react.actions.pagerduty:PagerDutyAction",
    "email": "opscope.react.actions.email:EmailAction",
    "jira": "opscope.react.actions.tickets:JiraAction",
    "servicenow": "opscope.react.actions.tickets:ServiceNowAction",
    "annotate": "opscope.react.actions.annotate:AnnotateAction",
}


def register_action(kind: str, target: str) -> None:
    """Add or replace an action kind, e.g. from a plugin's entry point."""
    ACTION_KINDS[kind] = target


def action_class(kind: str) -> type[Action[ActionConfig]]:
    target = ACTION_KINDS.get(kind)
    if target is None:
        known = ", ".join(sorted(ACTION_KINDS))
        raise ConfigError(f"unknown action kind {kind!r}; known kinds: {known}")
    module_name, class_name = target.split(":")
    cls: type[Action[ActionConfig]] = getattr(importlib.import_module(module_name), class_name)
    return cls


__all__ = ["ACTION_KINDS", "Action", "ActionConfig", "action_class", "register_action"]
