"""What rules would have done over stored history, without running anything.

:func:`replay` walks the triggers of a :class:`~opscope.react.ports.HistorySource` in
event time and reports, per trigger, the rules it matched and the actions they would
have run, with the request each action would have sent (rendered by the same
``prepare`` step live delivery uses, against throw-away in-memory state). Nothing is
delivered, nothing is written to the real audit log or notification log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from opscope.react.actions.base import ActionContext, ActionServices, DeliveryFailed
from opscope.react.engine import idempotency_key, redact
from opscope.react.memory import MemoryActionState
from opscope.react.ports import HistorySource
from opscope.react.rules import RuleSet
from opscope.react.templates import TemplateError
from opscope.react.triggers import Trigger


@dataclass
class WouldRun:
    rule: str
    action: str
    kind: str
    inputs: dict[str, Any] = field(default_factory=dict)
    held_for_approval: bool = False
    dry_run: bool = False
    problem: str = ""


@dataclass
class ReplayHit:
    trigger: Trigger
    actions: list[WouldRun]
    routed: list[str] = field(default_factory=list)


def replay(
    rules: RuleSet,
    history: HistorySource,
    start: datetime,
    end: datetime,
    base_url: str = "http://127.0.0.1:8080",
) -> list[ReplayHit]:
    hits: list[ReplayHit] = []
    with httpx.Client() as http:  # never used: prepare does no I/O
        services = ActionServices(http=http, state=MemoryActionState(), base_url=base_url)
        for trigger in history.triggers(start, end):
            would: list[WouldRun] = []
            routed: list[str] = []
            for rule in rules.rules:
                if not rule.matches(trigger):
                    continue
                if rule.rule.route is not None:
                    routed.append(rule.name)
                for bound in rule.actions:
                    key = idempotency_key(rule.name, bound.name, trigger)
                    fields = {
                        **trigger.fields,
                        "kind": trigger.kind.value,
                        "rule": rule.name,
                        "trigger": {
                            "subject": trigger.subject,
                            "fields": trigger.fields,
                            "kind": trigger.kind.value,
                        },
                        "links": {"opscope": base_url, "subject": base_url},
                    }
                    ctx = ActionContext(
                        rule.name, bound.name, trigger, fields, key, trigger.at, services
                    )
                    entry = WouldRun(
                        rule.name,
                        bound.name,
                        bound.kind,
                        held_for_approval=bool(
                            bound.policies.approval and bound.policies.approval.required
                        ),
                        dry_run=bool(bound.policies.dry_run),
                    )
                    try:
                        entry.inputs = redact(bound.action.prepare(ctx))
                    except (DeliveryFailed, TemplateError) as exc:
                        entry.problem = str(exc)
                    would.append(entry)
            if would or routed:
                hits.append(ReplayHit(trigger, would, routed))
    return hits
