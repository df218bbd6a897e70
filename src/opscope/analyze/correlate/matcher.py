"""Label matchers evaluated against signals (anchored regexes, compiled once)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from opscope.errors import ValidationFailed
from opscope.model.incident import Matcher, MatchOp, Signal


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(f"(?:{pattern})\\Z")
    except re.error as exc:
        raise ValidationFailed(f"bad matcher regex {pattern!r}: {exc}") from None


def label_value(signal: Signal, name: str) -> str:
    """A label of the signal, falling back to its own fields for the pseudo labels."""
    if name in signal.labels:
        return signal.labels[name]
    if name in ("alertname", "name"):
        return signal.name
    if name == "entity":
        return signal.entity
    if name == "source":
        return signal.source
    if name == "severity":
        return signal.severity.value
    if name == "kind":
        return signal.kind.value
    return ""


def matches(matcher: Matcher, signal: Signal) -> bool:
    value = label_value(signal, matcher.name)
    if matcher.op is MatchOp.EQUAL:
        return value == matcher.value
    if matcher.op is MatchOp.NOT_EQUAL:
        return value != matcher.value
    hit = _compiled(matcher.value).match(value) is not None
    return hit if matcher.op is MatchOp.REGEX else not hit


def matches_all(matchers: Sequence[Matcher], signal: Signal) -> bool:
    return all(matches(m, signal) for m in matchers)


def check_matchers(matchers: Sequence[Matcher]) -> None:
    """Raise ``ValidationFailed`` now rather than on the first signal."""
    for m in matchers:
        if m.op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            _compiled(m.value)
