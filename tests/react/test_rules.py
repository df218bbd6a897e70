from __future__ import annotations

from pathlib import Path

import pytest
from react_kit import T0, incident_trigger

from opscope.react.rules import RuleError, load_rules, parse_rules, rules_from_data
from opscope.react.triggers import trigger_from_fields

EXAMPLES = Path(__file__).parents[2] / "examples" / "rules"


def _problems(text: str) -> list[dict[str, object]]:
    with pytest.raises(RuleError) as info:
        parse_rules(text, "r.yaml")
    problems: list[dict[str, object]] = info.value.problems
    return problems


@pytest.mark.parametrize("name", ["demo.yaml", "routing.yaml"])
def test_bundled_examples_load(name: str) -> None:
    ruleset = load_rules(EXAMPLES / name)
    assert ruleset.rules


def test_example_rules_match_what_they_describe() -> None:
    ruleset = load_rules(EXAMPLES / "demo.yaml")
    opened = trigger_from_fields(incident_trigger())
    assert {r.name for r in ruleset.rules if r.matches(opened)} == {
        "incident-to-slack",
        "restart-on-memory-leak",
    }
    quiet = trigger_from_fields(
        incident_trigger(
            severity="info", labels={}, root_cause={"entity": "db", "reason": "slow disk"}
        )
    )
    assert [r.name for r in ruleset.rules if r.matches(quiet)] == []


CONDITION_ERROR = """\
version: 1
rules:
  - name: bad-condition
    trigger: {on: incident.opened}
    when: 'incident.severity == "critical" and and'
    actions: [{kind: annotate, with: {text: hi}}]
"""


def test_condition_error_names_line_and_column() -> None:
    [problem] = _problems(CONDITION_ERROR)
    assert problem["field"] == "rules[0].when"
    # Line 5: the quote opens at column 11, the string starts at 12, the second "and" is
    # at offset 36 of the string.
    assert (problem["line"], problem["column"]) == (5, 12 + 36)
    assert "unexpected keyword 'and'" in str(problem["message"])


BLOCK_CONDITION = """\
rules:
  - name: block
    trigger: {on: [incident.opened]}
    when: |
      incident.severity == "critical"
      and contains(incident.title, )
    actions: [{kind: annotate, with: {text: hi}}]
"""


def test_error_inside_a_block_scalar_points_at_its_line() -> None:
    [problem] = _problems(BLOCK_CONDITION)
    assert (problem["line"], problem["column"]) == (6, 36)


MANY_ERRORS = """\
version: 1
rules:
  - name: one
    trigger: {on: incident.opened}
    actions:
      - kind: telepathy
      - kind: webhook
        with: {url: "not a url", timeout: -1}
      - kind: runbook
        name: rb
        with: {program: x.sh, args: ["{{ incident.id "]}
  - name: one
    trigger: {on: [incident.sneezed]}
    actions: [{kind: annotate, with: {text: hi, colour: red}}]
  - name: sched
    trigger: {on: schedule}
    actions: [{kind: annotate, with: {text: hi}}]
"""


def test_every_problem_is_reported_with_its_place() -> None:
    problems = _problems(MANY_ERRORS)
    by_field = {str(p["field"]): p for p in problems}
    assert by_field["rules[1].trigger.on[0]"]["line"] == 13
    assert "Input should be" in str(by_field["rules[1].trigger.on[0]"]["message"])
    assert "needs 'every'" in str(by_field["rules[2].trigger"]["message"])
    # The structure is checked first; fix it and the deeper checks report.
    fixed = MANY_ERRORS.replace("incident.sneezed", "incident.opened").replace(
        "on: schedule}", "on: schedule, every: 5m}"
    )
    problems = _problems(fixed)
    fields = {str(p["field"]): p for p in problems}
    assert fields["rules[0].actions[0].kind"]["line"] == 6
    assert "unknown action kind 'telepathy'" in str(fields["rules[0].actions[0].kind"]["message"])
    assert fields["rules[0].actions[1].with.url"]["line"] == 8
    assert fields["rules[0].actions[1].with.timeout"]["line"] == 8
    assert fields["rules[0].actions[2].with.args[0]"]["line"] == 11
    assert "template" in str(fields["rules[0].actions[2].with.args[0]"]["message"])
    assert fields["rules[1].actions[0].with.colour"]["line"] == 14
    assert "duplicate rule name" in str(fields["rules[1].name"]["message"])


def test_yaml_syntax_error_has_a_position() -> None:
    [problem] = _problems("rules:\n  - name: x\n    trigger: {on: [incident.opened\n")
    assert problem["line"] and problem["column"]


def test_unknown_top_level_keys_and_routing_without_section() -> None:
    problems = _problems("rulez: []\n")
    assert problems[0]["field"] == "rulez"
    problems = _problems("rules:\n  - name: r\n    trigger: {on: incident.opened}\n    route: {}\n")
    assert "no 'routing' section" in str(problems[0]["message"])


def test_rules_as_data_report_fields_without_lines() -> None:
    data = {
        "rules": [
            {
                "name": "x",
                "trigger": {"on": "incident.opened"},
                "when": "incident.severity ==",
                "actions": [{"kind": "annotate", "with": {"text": "t"}}],
            }
        ]
    }
    with pytest.raises(RuleError) as info:
        rules_from_data(data)
    [problem] = info.value.problems
    assert problem["field"] == "rules[0].when" and "line" not in problem
    data["rules"][0]["when"] = 'incident.severity == "critical"'
    ruleset = rules_from_data(data)
    assert ruleset.rules[0].matches(trigger_from_fields(incident_trigger(), at=T0))


def test_event_selector_matchers() -> None:
    ruleset = parse_rules("""
rules:
  - name: infra-events
    trigger:
      on: event
      match: ['labels.team="infra"', 'severity=~"critical|error"', 'labels.env!="dev"']
    actions: [{kind: annotate, with: {text: x}}]
""")
    rule = ruleset.rules[0]

    def event(**labels: str) -> bool:
        body = {
            "source": "am",
            "name": "X",
            "fingerprint": "f",
            "status": "firing",
            "severity": labels.pop("severity", "error"),
            "labels": labels,
            "starts_at": "2024-05-01T12:00:00Z",
        }
        return bool(rule.matches(trigger_from_fields({"kind": "event", "event": body})))

    assert event(team="infra")
    assert event(team="infra", env="prod")
    assert not event(team="infra", env="dev")
    assert not event(team="web")
    assert not event(team="infra", severity="warning")


def test_variables_fill_values_but_never_structure() -> None:
    text = """
rules:
  - name: v
    trigger: {on: incident.opened}
    actions:
      - kind: webhook
        with: {url: "${HOOK_URL:-http://127.0.0.1:1/x}", body: {t: "${TEAM}"}}
"""
    ruleset = parse_rules(text, variables={"TEAM": "a}, b: {c", "HOOK_URL": "http://h:2/y"})
    config = ruleset.rules[0].actions[0].action.config
    assert str(config.url) == "http://h:2/y"
    assert config.body == {"t": "a}, b: {c"}
    default = parse_rules(text, variables={"TEAM": "x"}).rules[0].actions[0].action.config
    assert str(default.url) == "http://127.0.0.1:1/x"
    with pytest.raises(RuleError) as info:
        parse_rules(text)
    assert "${TEAM} is not set" in str(info.value.problems[0]["message"])
    assert info.value.problems[0]["line"] == 7
