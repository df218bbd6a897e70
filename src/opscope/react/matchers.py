"""Label matchers as Alertmanager writes them: ``team="payments"``, ``severity=~"crit.*"``.

A matcher names a field (a dotted path into the fields it is tested against, so
``labels.team`` works on events and ``team`` on a flat label set), an operator (``=``,
``!=``, ``=~`` full-match regex, ``!~``) and a value. A missing field is the empty string,
as in Alertmanager, so ``env!="prod"`` matches alerts without an ``env`` label. Regexes
are vetted like those of conditions (length and nested-repeat guards).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opscope.react.expr import MAX_SUBJECT, lookup, vet_pattern

_MATCHER = re.compile(
    r'^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$'
)


@dataclass(frozen=True)
class Matcher:
    field: str
    op: str
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, fields: Mapping[str, Any]) -> bool:
        raw = lookup(fields, tuple(self.field.split(".")))
        text = "" if raw is None else str(raw)
        if self.op == "=":
            return text == self.value
        if self.op == "!=":
            return text != self.value
        assert self.regex is not None  # set by parse_matcher for =~ and !~
        found = self.regex.fullmatch(text[:MAX_SUBJECT]) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.field}{self.op}"{self.value}"'


def parse_matcher(text: str) -> Matcher:
    found = _MATCHER.match(text)
    if not found:
        raise ValueError(f'invalid matcher {text!r}; write e.g. team="payments" or sev=~"a|b"')
    field, op = found.group(1), found.group(2)
    value = found.group(3) if found.group(3) is not None else found.group(4) or ""
    value = value.replace('\\"', '"')
    regex = vet_pattern(value) if op in ("=~", "!~") else None
    return Matcher(field, op, value, regex)


def parse_matchers(texts: list[str]) -> list[Matcher]:
    return [parse_matcher(t) for t in texts]


def match_all(matchers: list[Matcher], fields: Mapping[str, Any]) -> bool:
    return all(m.matches(fields) for m in matchers)
