from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opscope.react.expr import ExpressionError, compile_condition, vet_pattern

FIELDS: dict[str, Any] = {
    "kind": "incident.opened",
    "incident": {
        "id": "inc-1",
        "severity": "critical",
        "title": "checkout latency above SLO",
        "score": 0.91,
        "count": 3,
        "tags": ["db", "prod"],
        "labels": {"team": "payments", "app.kubernetes.io/name": "cart"},
        "root_cause": {"entity": "cart-service", "reason": "OOM kills"},
    },
    "event": {"labels": {"team": "infra"}},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('incident.severity == "critical"', True),
        ("incident.severity == 'warning'", False),
        ('incident.severity != "warning"', True),
        ('incident.labels.team == "payments" and kind == "incident.opened"', True),
        ('incident.labels.team == "storage" or incident.count >= 3', True),
        ('not incident.labels.team == "payments"', False),
        ('incident.severity in ["critical", "error"]', True),
        ('"db" in incident.tags', True),
        ('"web" not in incident.tags', True),
        ('"team" in incident.labels', True),
        ('"latency" in incident.title', True),
        ('contains(incident.title, "SLO")', True),
        ('contains(incident.tags, "prod")', True),
        ('startswith(incident.root_cause.entity, "cart")', True),
        ('endswith(incident.root_cause.entity, "-service")', True),
        ('matches(incident.root_cause.reason, "(?i)oom|memory")', True),
        ('matches(incident.title, "^db")', False),
        ('lower(incident.severity) == "critical"', True),
        ('upper(incident.labels.team) == "PAYMENTS"', True),
        ("len(incident.tags) == 2", True),
        ("incident.score > 0.9 and incident.score <= 1", True),
        ("incident.count < -1", False),
        ('severity(incident.severity) >= severity("error")', True),
        ('severity("nonsense") == -1', True),
        ('incident.labels["app.kubernetes.io/name"] == "cart"', True),
        ('incident.tags[0] == "db" and incident.tags[-1] == "prod"', True),
        ("incident.tags[5] == null", True),
        ("incident.missing.deeper == null", True),
        ("exists(incident.root_cause) and not exists(incident.nothing)", True),
        ("incident.severity > 3", False),  # different types: false, not an error
        ('event.labels.team == "infra"', True),
        ("(true or false) and not (false)", True),
        ("", True),
    ],
)
def test_conditions_evaluate_to_known_answers(text: str, expected: bool) -> None:
    assert compile_condition(text).test(FIELDS) is expected


@pytest.mark.parametrize(
    ("text", "offset", "fragment"),
    [
        ("incident.severity == ", 21, "expected a value"),
        ('incident.severity === "x"', 20, "unexpected character"),
        ('incident.severity == "critical', 21, "not closed"),
        ('system("rm -rf /")', 0, "unknown function"),
        ('__import__("os")', 0, "unknown function"),
        ("contains(incident.title)", 0, "takes 2 argument"),
        ("matches(incident.title, incident.severity)", 24, "string literal"),
        ('matches(incident.title, "(a+)+$")', 24, "unbounded repeat"),
        ('incident.severity == "a" and', 28, "expected a value"),
        ("incident.title $ 2", 15, "unexpected character"),
        ("(incident.title", 15, "expected ')'"),
        ("incident. == 1", 10, "field name"),
    ],
)
def test_parse_errors_point_at_the_offending_offset(text: str, offset: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_condition(text)
    assert fragment in info.value.message
    assert info.value.offset == offset


def test_nesting_and_length_are_bounded() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_condition("(" * 200 + "true" + ")" * 200)
    with pytest.raises(ExpressionError, match="longer than"):
        compile_condition("true or " * 1000 + "true")


@pytest.mark.parametrize("pattern", ["(a+)+", "(x*y*)*", "((ab)+c)+", "(a{2,})+", "(.*)*"])
def test_catastrophic_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="unbounded repeat"):
        vet_pattern(pattern)


@pytest.mark.parametrize(
    "pattern", ["(ab)+", "a+b+", "(a|b)?c*", r"\(a+\)+", "[(]a+[)]+", "(a{2})+"]
)
def test_harmless_patterns_are_accepted(pattern: str) -> None:
    vet_pattern(pattern)


def test_matching_a_huge_subject_stays_fast() -> None:
    cond = compile_condition('matches(incident.title, "a.*b.*c.*d$")')
    started = time.perf_counter()
    assert cond.test({"incident": {"title": "a" * 1_000_000}}) is False
    assert time.perf_counter() - started < 2.0


def test_fields_are_data_never_code() -> None:
    # A value that looks like an expression is only ever compared as a string.
    cond = compile_condition('incident.title == "x"')
    assert cond.test({"incident": {"title": '" or true or "'}}) is False
    assert compile_condition("incident.title").test({"incident": {"title": "__import__"}})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abc.()[]\"' =!<>,-0123456789 andornotin", max_size=40))
def test_parser_only_ever_raises_expression_errors(text: str) -> None:
    try:
        compile_condition(text)
    except ExpressionError as exc:
        assert 0 <= exc.offset <= len(text)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_evaluation_never_crashes_on_odd_fields(value: object) -> None:
    cond = compile_condition(
        'a.b == "x" or a.b > 1 or "k" in a.b or contains(a.b, "y") or len(a.b) > 2 '
        'or matches(a.b, "^z") or a.b[0] in [1, "q"] or severity(a.b) > 2 or lower(a.b) == "s"'
    )
    assert cond.test({"a": {"b": value}}) in (True, False)
