"""Templates in action configs, rendered by a sandboxed Jinja2 environment.

Only the operator's template is ever compiled; the trigger's fields are *data* given to
it, so an alert label holding ``{{ 7*7 }}`` or ``{% ... %}`` comes out literally. Values
are placed into structures (a JSON body, an argument list) after rendering, never spliced
into JSON text, so no label can break a payload: the structure is serialised once, at the
end, by the JSON encoder. A string that is exactly one ``{{ expression }}`` keeps the
expression's native value (a map, a list, a number) instead of its text.

The sandbox refuses unsafe attribute access, and this environment also refuses to build
huge values through ``*`` / ``**`` and cuts every rendered string to a bounded length.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import orjson
from jinja2 import ChainableUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

MAX_RENDERED = 64 * 1024
_MAX_PRODUCT = 100_000
_SINGLE_EXPRESSION = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}$", re.DOTALL)


class TemplateError(ValueError):
    """A template does not compile; ``lineno`` is its line within the template text."""

    def __init__(self, message: str, lineno: int = 1) -> None:
        super().__init__(message)
        self.lineno = lineno


class _BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise TemplateError("exponent too large in template")
        if operator == "*":
            sizes = [len(v) if isinstance(v, str | list | tuple) else None for v in (left, right)]
            counts = [v for v in (left, right) if isinstance(v, int)]
            if (
                any(s is not None for s in sizes)
                and counts
                and max((s or 0) for s in sizes) * max(counts) > _MAX_PRODUCT
            ):
                raise TemplateError("template would build a value that is too large")
        return super().call_binop(context, operator, left, right)


def _to_json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class TemplateRenderer:
    """Renders strings and nested structures of strings against a trigger's fields."""

    def __init__(self) -> None:
        env = _BoundedSandbox(
            autoescape=False, undefined=ChainableUndefined, keep_trailing_newline=True
        )
        env.filters["tojson"] = _to_json  # compact, no HTML escaping: values go into JSON
        self.env = env

    @functools.lru_cache(maxsize=2048)  # noqa: B019 - one renderer for the process
    def _template(self, text: str) -> Template:
        # Compiling is the expensive part of rendering; rule templates are few and reused.
        return self.env.from_string(text)

    @functools.lru_cache(maxsize=2048)  # noqa: B019 - one renderer for the process
    def _expression(self, expression: str) -> Any:
        return self.env.compile_expression(expression, undefined_to_none=True)

    def check(self, text: str) -> None:
        """Compile ``text``; raise :class:`TemplateError` with a line number if invalid."""
        try:
            single = _SINGLE_EXPRESSION.match(text.strip())
            if single:
                self.env.compile_expression(single.group("expr"))
            else:
                self.env.parse(text)
        except TemplateSyntaxError as exc:
            raise TemplateError(exc.message or "template syntax error", exc.lineno or 1) from exc

    def check_value(self, value: Any) -> list[tuple[tuple[str | int, ...], TemplateError]]:
        """Compile every string inside a structure; return (path, error) pairs."""
        problems: list[tuple[tuple[str | int, ...], TemplateError]] = []
        for path, text in _strings(value, ()):
            try:
                self.check(text)
            except TemplateError as exc:
                problems.append((path, exc))
        return problems

    def render_text(self, text: str, fields: Mapping[str, Any]) -> str:
        if "{" not in text:
            return text
        try:
            out = self._template(text).render(dict(fields))
        except TemplateError:
            raise
        except Exception as exc:  # a template runtime error is the rule author's, not ours
            raise TemplateError(f"template failed: {exc}") from exc
        return out[:MAX_RENDERED]

    def render_value(self, value: Any, fields: Mapping[str, Any]) -> Any:
        """Render every string in a structure of maps and lists; keys are rendered too."""
        if isinstance(value, str):
            single = _SINGLE_EXPRESSION.match(value.strip())
            if single:
                return self._native(single.group("expr"), fields)
            return self.render_text(value, fields)
        if isinstance(value, Mapping):
            return {
                self.render_text(str(k), fields): self.render_value(v, fields)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.render_value(v, fields) for v in value]
        return value

    def _native(self, expression: str, fields: Mapping[str, Any]) -> Any:
        try:
            result = self._expression(expression)(**dict(fields))
        except TemplateError:
            raise
        except Exception as exc:
            raise TemplateError(f"template failed: {exc}") from exc
        if result is None:
            return ""
        if isinstance(result, str):
            return result[:MAX_RENDERED]
        if isinstance(result, bool | int | float | list | dict):
            return result
        return str(result)[:MAX_RENDERED]


def _strings(value: Any, path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        found: list[tuple[tuple[str | int, ...], str]] = []
        for key, item in value.items():
            found.extend(_strings(item, (*path, str(key))))
        return found
    if isinstance(value, list | tuple):
        return [pair for i, item in enumerate(value) for pair in _strings(item, (*path, i))]
    return []


ROOT_CAUSE_TEXT = (
    "{{ incident.root_cause.entity or incident.root_cause }}"
    "{% if incident.root_cause.reason %} — {{ incident.root_cause.reason }}{% endif %}"
)
"""A root cause as text, whether the incident gives a hypothesis map or a string."""


RENDERER = TemplateRenderer()
"""The shared renderer: the environment is stateless apart from its template cache."""
