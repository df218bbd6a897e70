from __future__ import annotations

import json

import pytest

from opscope.react.templates import TemplateError, TemplateRenderer

R = TemplateRenderer()

HOSTILE = [
    "{{ 7*7 }}",
    "{% for x in range(10**9) %}x{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    '"}, "injected": true, "x": {"',
    "$(rm -rf /)",
    "`reboot`",
    "; | && >/etc/passwd",
    "\\u0000\n\r\t\"'",
    "{#",
    "}}{{",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_field_values_are_rendered_literally(value: str) -> None:
    fields = {"event": {"labels": {"team": value}}}
    assert R.render_text("team={{ event.labels.team }}", fields) == f"team={value}"
    body = R.render_value(
        {"team": "{{ event.labels.team }}", "text": "t: {{ event.labels.team }}"}, fields
    )
    # The body is encoded after rendering: it parses back to exactly the same values.
    assert json.loads(json.dumps(body)) == {"team": value, "text": f"t: {value}"}


def test_single_expression_keeps_native_values() -> None:
    fields = {"incident": {"labels": {"a": "1"}, "score": 0.5, "tags": ["x"]}}
    out = R.render_value(
        {
            "labels": "{{ incident.labels }}",
            "score": "{{ incident.score }}",
            "tags": "{{ incident.tags }}",
            "missing": "{{ incident.nope.deeper }}",
        },
        fields,
    )
    assert out == {"labels": {"a": "1"}, "score": 0.5, "tags": ["x"], "missing": ""}


def test_sandbox_blocks_unsafe_access_and_huge_values() -> None:
    with pytest.raises(TemplateError):
        R.render_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})
    with pytest.raises(TemplateError, match="too large"):
        R.render_text("{{ 'a' * 100000000 }}", {})
    with pytest.raises(TemplateError, match="exponent"):
        R.render_text("{{ 10 ** 100000 }}", {})
    huge = "x" * 1_000_000
    assert len(R.render_text("{{ v }}!", {"v": huge})) == 64 * 1024


def test_check_reports_the_line_of_a_syntax_error() -> None:
    with pytest.raises(TemplateError) as info:
        R.check("line one\n{{ broken \n")
    assert info.value.lineno == 2
    problems = R.check_value({"a": ["ok {{ x }}", "{% if %}"]})
    assert [p for p, _ in problems] == [("a", 1)]
