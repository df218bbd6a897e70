"""Rules: a trigger, a condition and a list of actions, loaded from YAML or from data.

A rule file::

    version: 1
    rules:
      - name: page-on-critical
        trigger:
          on: [incident.opened, incident.updated, incident.resolved]
          match: ['severity=~"critical|error"']       # optional matchers on the subject
        when: 'not contains(incident.title, "test") and incident.labels.team == "payments"'
        policies: {cooldown: 5m, rate_limit: {count: 10, per: 1h}}
        actions:
          - kind: slack
            with: {channel: C0123, updates: update}
          - kind: runbook
            name: restart
            with: {program: restart.sh, args: ["{{ incident.service }}"]}
            policies: {approval: {ttl: 30m}}
        route: {}                                      # also send it down the routing tree
    routing:                                           # optional, see opscope.react.routing
      route: {receiver: oncall, group_by: [service], group_wait: 30s}
      receivers:
        - name: oncall
          actions: [{kind: webhook, with: {url: "http://127.0.0.1:9000/hook"}}]

``trigger.on`` lists trigger kinds (``incident.opened``, ``incident.updated``,
``incident.resolved``, ``anomaly``, ``event``, ``schedule`` with ``every: 15m`` or
``cron: "0 9 * * mon-fri"`` and an optional ``timezone``, see :mod:`opscope.react.cron`);
``trigger.match`` holds Alertmanager-style matchers on the trigger's main object (the
event selector: ``labels.team="payments"``); ``when`` is a condition in the language of
:mod:`opscope.react.expr` over all the trigger's fields; ``actions`` are action kinds with
their typed config under ``with`` (see ``opscope.react.actions``) and optional
per-action ``policies`` (see :mod:`opscope.react.policies`). Everything is checked at
load time — the structure, each action's config, every condition, matcher and template
— and each problem names its place: ``rules.yaml:12:14: rules[0].when: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opscope.errors import ConfigError, ValidationFailed
from opscope.react.actions import action_class
from opscope.react.actions.base import Action, ActionConfig
from opscope.react.cron import CronExpr
from opscope.react.duration import Duration
from opscope.react.expr import Condition, ExpressionError, compile_condition
from opscope.react.matchers import Matcher, match_all, parse_matchers
from opscope.react.policies import Policies
from opscope.react.routing import ResolvedRoute, Route, resolve_route
from opscope.react.templates import RENDERER
from opscope.react.triggers import Trigger, TriggerKind
from opscope.react.yaml_source import Located, load_located

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TriggerSpec(Spec):
    on: list[TriggerKind] = Field(min_length=1, description="Trigger kinds the rule reacts to.")
    match: list[str] = Field(
        default_factory=list,
        description='Matchers on the trigger\'s main object, e.g. labels.team="payments".',
    )
    every: Duration | None = Field(default=None, description="Interval of a schedule trigger.")
    cron: str | None = Field(
        default=None, max_length=256,
        description='Cron expression of a schedule trigger, e.g. "30 8 * * mon-fri".',
    )
    timezone: str = Field(
        default="UTC", max_length=64, description="IANA time zone the cron expression reads in."
    )
    catch_up: Duration = Field(
        default=timedelta(minutes=10),
        description="Cron runs missed while the server was down fire late if no older than "
                    "this (at most ten of them).",
    )

    @field_validator("on", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _schedule(self) -> TriggerSpec:
        if TriggerKind.NOTIFICATION in self.on:
            raise ValueError("'notification' is produced by routing, not a rule trigger")
        if TriggerKind.SCHEDULE in self.on and self.every is None and self.cron is None:
            raise ValueError(
                "a schedule trigger needs 'every' or 'cron', e.g. every: 15m or cron: '0 9 * * *'"
            )
        if self.every is not None and self.cron is not None:
            raise ValueError("give 'every' or 'cron', not both")
        if self.every is not None and self.every.total_seconds() < 1:
            raise ValueError("'every' must be at least 1s")
        if self.cron is not None:
            CronExpr.parse(self.cron, self.timezone)  # CronError is a ValueError
        elif self.timezone != "UTC":
            raise ValueError("'timezone' applies to 'cron' only")
        return self

    def cron_expr(self) -> CronExpr | None:
        """The parsed cron expression, or None for interval and non-schedule triggers."""
        return _cron(self.cron, self.timezone) if self.cron is not None else None


@lru_cache(maxsize=256)
def _cron(text: str, tz: str) -> CronExpr:
    return CronExpr.parse(text, tz)


class ActionSpec(Spec):
    kind: str = Field(min_length=1, description="Action kind: webhook, slack, runbook, ...")
    name: str = Field(
        default="", pattern=r"^$|" + NAME_PATTERN, description="Defaults to the kind."
    )
    with_: dict[str, Any] = Field(
        default_factory=dict, alias="with", description="The action kind's config."
    )
    policies: Policies = Field(
        default_factory=lambda: Policies(), description="Overrides the rule's."
    )


class RouteInput(Spec):
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels for routing: label name -> field path, e.g. "
        "team: incident.labels.team. Severity, service and the subject's labels are added.",
    )


def _unique_action_names(actions: list[ActionSpec]) -> list[ActionSpec]:
    seen: set[str] = set()
    out: list[ActionSpec] = []
    for spec in actions:
        name = spec.name or spec.kind
        if name in seen:
            raise ValueError(f"two actions are named {name!r}; give them distinct 'name's")
        seen.add(name)
        out.append(spec if spec.name else spec.model_copy(update={"name": name}))
    return out


class Rule(Spec):
    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=2048)
    enabled: bool = True
    trigger: TriggerSpec
    when: str = Field(default="", max_length=4096, description="Condition; empty means always.")
    actions: list[ActionSpec] = Field(default_factory=list)
    route: RouteInput | None = Field(
        default=None, description="Also send matches down the routing tree."
    )
    policies: Policies = Field(default_factory=lambda: Policies())

    @model_validator(mode="after")
    def _has_effect(self) -> Rule:
        if not self.actions and self.route is None:
            raise ValueError("a rule needs at least one action or 'route'")
        object.__setattr__(self, "actions", _unique_action_names(self.actions))
        return self


class ReceiverSpec(Spec):
    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    actions: list[ActionSpec] = Field(min_length=1)
    policies: Policies = Field(default_factory=lambda: Policies())

    @model_validator(mode="after")
    def _names(self) -> ReceiverSpec:
        object.__setattr__(self, "actions", _unique_action_names(self.actions))
        return self


class RoutingSpec(Spec):
    route: Route
    receivers: list[ReceiverSpec] = Field(min_length=1)


class RuleFile(Spec):
    version: Literal[1] = 1
    rules: list[Rule] = Field(default_factory=list)
    routing: RoutingSpec | None = None


@dataclass(frozen=True)
class BoundAction:
    """An action of a rule or receiver, with its config parsed and policies merged."""

    name: str
    kind: str
    action: Action[ActionConfig]
    policies: Policies


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    condition: Condition
    matchers: tuple[Matcher, ...]
    actions: tuple[BoundAction, ...]

    @property
    def name(self) -> str:
        return self.rule.name

    def matches(self, trigger: Trigger) -> bool:
        if not self.rule.enabled or trigger.kind not in self.rule.trigger.on:
            return False
        if self.matchers and not match_all(list(self.matchers), trigger.body):
            return False
        return self.condition.test(trigger.fields)


@dataclass
class RuleSet:
    rules: list[CompiledRule] = field(default_factory=list)
    route: ResolvedRoute | None = None
    receivers: dict[str, tuple[BoundAction, ...]] = field(default_factory=dict)

    def rule(self, name: str) -> CompiledRule | None:
        return next((r for r in self.rules if r.name == name), None)


class RuleError(ValidationFailed):
    """Rules that do not load; ``problems`` carry field, line, column and message."""

    def __str__(self) -> str:
        lines = [self.message]
        for p in self.problems:
            where = f"{p.get('file', '')}:{p['line']}:{p['column']}: " if p.get("line") else ""
            lines.append(f"  {where}{p['field']}: {p['message']}")
        return "\n".join(lines)


def _path_text(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


class _Problems:
    def __init__(self, located: Located | None, file: str) -> None:
        self.located = located
        self.file = file
        self.items: list[dict[str, Any]] = []

    def add(
        self,
        path: Sequence[str | int],
        message: str,
        offset: int | None = None,
        line_delta: int = 0,
    ) -> None:
        problem: dict[str, Any] = {"index": None, "field": _path_text(path), "message": message}
        if self.located is not None:
            line, column = self.located.position(tuple(path), offset)
            problem.update(file=self.file, line=line + line_delta, column=column)
        self.items.append(problem)

    def add_validation(self, prefix: Sequence[str | int], exc: ValidationError) -> None:
        for err in exc.errors(include_url=False):
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            path = [*prefix, *["with" if p == "with_" else p for p in loc]]
            self.add(path, err["msg"])


def _bind(
    specs: Sequence[ActionSpec], base: Policies, prefix: Sequence[str | int], problems: _Problems
) -> tuple[BoundAction, ...]:
    bound: list[BoundAction] = []
    for j, spec in enumerate(specs):
        where = (*prefix, j)
        try:
            cls = action_class(spec.kind)
        except ConfigError as exc:
            problems.add((*where, "kind"), exc.message)
            continue
        try:
            config = cls.config_model.model_validate(spec.with_)
        except ValidationError as exc:
            problems.add_validation((*where, "with"), exc)
            continue
        for path, err in RENDERER.check_value(spec.with_):
            problems.add((*where, "with", *path), f"template: {err}", line_delta=err.lineno - 1)
        bound.append(BoundAction(spec.name, spec.kind, cls(config), spec.policies.over(base)))
    return tuple(bound)


def _compile(rule_file: RuleFile, problems: _Problems) -> RuleSet:
    ruleset = RuleSet()
    names: set[str] = set()
    for i, rule in enumerate(rule_file.rules):
        if rule.name in names:
            problems.add(("rules", i, "name"), f"duplicate rule name {rule.name!r}")
        names.add(rule.name)
        try:
            condition = compile_condition(rule.when)
        except ExpressionError as exc:
            problems.add(("rules", i, "when"), exc.message, offset=exc.offset)
            condition = compile_condition("")
        matchers: list[Matcher] = []
        for k, text in enumerate(rule.trigger.match):
            try:
                matchers.extend(parse_matchers([text]))
            except ValueError as exc:
                problems.add(("rules", i, "trigger", "match", k), str(exc))
        actions = _bind(rule.actions, rule.policies, ("rules", i, "actions"), problems)
        ruleset.rules.append(CompiledRule(rule, condition, tuple(matchers), actions))
    routing = rule_file.routing
    if routing is not None:
        for i, receiver in enumerate(routing.receivers):
            ruleset.receivers[receiver.name] = _bind(
                receiver.actions,
                receiver.policies,
                ("routing", "receivers", i, "actions"),
                problems,
            )
        try:
            ruleset.route = resolve_route(routing.route)
        except ValueError as exc:
            problems.add(("routing", "route"), str(exc))
        _check_receivers(routing.route, set(ruleset.receivers), problems)
    elif any(r.route is not None for r in rule_file.rules):
        problems.add(("rules",), "a rule uses 'route' but the file has no 'routing' section")
    return ruleset


def _check_receivers(route: Route, known: set[str], problems: _Problems) -> None:
    if route.receiver is not None and route.receiver not in known:
        problems.add(("routing", "route"), f"unknown receiver {route.receiver!r}")
    for child in route.routes:
        _check_receivers(child, known, problems)


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute(
    data: Any, variables: Mapping[str, str], path: tuple[str | int, ...], problems: _Problems
) -> Any:
    """Replace ``${NAME}`` and ``${NAME:-default}`` in strings from ``variables`` only.

    Done on the loaded data (never on the YAML text), so a value cannot change the
    document's structure; templates' own ``{{ }}`` are untouched.
    """
    if isinstance(data, str):
        if "${" not in data:
            return data

        def replace(found: re.Match[str]) -> str:
            name, default = found.group(1), found.group(2)
            if name in variables:
                return variables[name]
            if default is not None:
                return default
            problems.add(path, f"variable ${{{name}}} is not set and has no default")
            return ""

        return _VARIABLE.sub(replace, data)
    if isinstance(data, dict):
        return {k: substitute(v, variables, (*path, k), problems) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute(v, variables, (*path, i), problems) for i, v in enumerate(data)]
    return data


def _build(
    data: Any, located: Located | None, file: str, variables: Mapping[str, str] | None = None
) -> RuleSet:
    problems = _Problems(located, file)
    if data is None:
        data = {}
    data = substitute(data, variables or {}, (), problems)
    if problems.items:
        raise RuleError(f"{file}: {len(problems.items)} problem(s)", problems.items)
    try:
        rule_file = RuleFile.model_validate(data)
    except ValidationError as exc:
        problems.add_validation((), exc)
        raise RuleError(f"{file}: {len(problems.items)} problem(s)", problems.items) from None
    ruleset = _compile(rule_file, problems)
    if problems.items:
        raise RuleError(f"{file}: {len(problems.items)} problem(s)", problems.items)
    return ruleset


def parse_rules(
    text: str, file: str = "<rules>", variables: Mapping[str, str] | None = None
) -> RuleSet:
    """Load rules from YAML text; raise :class:`RuleError` listing every problem.

    ``variables`` fill ``${NAME}`` / ``${NAME:-default}`` in string values (pass
    ``os.environ`` or a dict; nothing is read from the environment implicitly).
    """
    try:
        located = load_located(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem: dict[str, Any] = {
            "index": None,
            "field": "(file)",
            "message": str(getattr(exc, "problem", None) or exc),
        }
        if mark is not None:
            problem.update(file=file, line=mark.line + 1, column=mark.column + 1)
        raise RuleError(f"{file}: not valid YAML", [problem]) from None
    return _build(located.data, located, file, variables)


def load_rules(path: Path, variables: Mapping[str, str] | None = None) -> RuleSet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read {path}: {exc}") from exc
    return parse_rules(text, str(path), variables)


def rules_from_data(data: Mapping[str, Any], variables: Mapping[str, str] | None = None) -> RuleSet:
    """Load rules given as data (an API body); problems name fields, without lines."""
    return _build(dict(data), None, "<request>", variables)


def merge_rulesets(sets: Sequence[RuleSet]) -> RuleSet:
    """Rules of several files together; at most one may define routing."""
    merged = RuleSet()
    for ruleset in sets:
        names = {r.name for r in merged.rules}
        clash = [r.name for r in ruleset.rules if r.name in names]
        if clash:
            raise RuleError(f"rule names defined twice: {', '.join(clash)}")
        merged.rules.extend(ruleset.rules)
        if ruleset.route is not None:
            if merged.route is not None:
                raise RuleError("only one rule file may define 'routing'")
            merged.route = ruleset.route
            merged.receivers = dict(ruleset.receivers)
    return merged
