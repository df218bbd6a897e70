"""How two tokens generalise into one template token, and reading values back out.

Used by the template miner: when a line joins a template, each differing token pair is
merged so that only the part that differs becomes ``<*>``; a difference between plain
words is told apart from a difference in values, because words name events.
"""

from __future__ import annotations

import re

from opscope.analyze.logs.masking import CHUNK_SPLIT, DATETIME_MASK, WILDCARD

_HOLE = "\x00"  # stands for <*> while splitting, so that its brackets are not separators


def plain_difference(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ in plain text, not in a masked value.

    A word against a value with punctuation of its own (``NODEVssh`` against ``:<*>``)
    also counts: the two do not have the shape of one field's values.
    """
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end = 0
    while end < limit - start and a[-1 - end] == b[-1 - end]:
        end += 1
    rest_a, rest_b = a[start:len(a) - end], b[start:len(b) - end]
    if _HOLE not in rest_a and _HOLE not in rest_b:
        return True
    return _shaped_unlike(rest_a, rest_b) or _shaped_unlike(rest_b, rest_a)


def _shaped_unlike(word: str, value: str) -> bool:
    return (_HOLE not in word and word.isalpha() and _HOLE in value
            and any(not ch.isalnum() and ch != _HOLE for ch in value))


# Units of sizes and durations: a unit that changes goes with the value in front of it.
_UNITS = frozenset({
    "b", "kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "tib", "bytes", "byte", "k", "m",
    "g", "ns", "us", "ms", "s", "sec", "secs", "second", "seconds", "min", "mins", "minute",
    "minutes", "h", "hr", "hrs", "hour", "hours", "d", "days",
})
_CLOSERS = ")]},;:."


def word_difference(template: str, token: str, learned: bool) -> bool:
    """Whether a differing token names another event rather than another value.

    A place the miner generalised itself covers any text; elsewhere a difference between
    plain words (no masked value on either side) counts as a different word.
    """
    if template == WILDCARD or (learned and covers([template], [token])):
        return False
    if (template.rstrip(_CLOSERS).lower() in _UNITS
            and token.rstrip(_CLOSERS).lower() in _UNITS):
        return False  # "16 B" and "2 KB": the unit belongs to the value before it
    return merge_token(template, token)[1]


def merge_token(old: str, new: str) -> tuple[str, bool]:
    """Generalise two differing tokens, keeping what they share around the value.

    Both are cut at separators (``=``, ``:``, brackets, quotes, ...). Equal pieces stay;
    the differing middle becomes one ``<*>``: ``rhost=a`` and ``rhost=b`` give
    ``rhost=<*>``, ``(x)`` and ``(::1)`` give ``(<*>)``. The flag tells whether the
    difference is between plain words (no value on either side), which is weaker
    evidence of a value than a difference against an already masked part.
    """
    if old == WILDCARD or new == WILDCARD:
        return WILDCARD, False
    a = CHUNK_SPLIT.split(old.replace(WILDCARD, _HOLE))
    b = CHUNK_SPLIT.split(new.replace(WILDCARD, _HOLE))
    if len(a) == len(b) and all(a[i] == b[i] for i in range(1, len(a), 2)):
        # Same shape: only the differing values become holes.
        pairs = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
        parts = [x if x == y else _HOLE for x, y in zip(a, b, strict=True)]
    else:
        limit = min(len(a), len(b))
        head = 0
        while head < limit and a[head] == b[head]:
            head += 1
        tail = 0
        while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
            tail += 1
        pairs = [("".join(a[head:len(a) - tail]), "".join(b[head:len(b) - tail]))]
        parts = [*a[:head], _HOLE, *a[len(a) - tail:]]
        if head == 0 and a[0] and b[0] and _HOLE not in a[0] + b[0]:
            # Different keys (``num=`` against ``topActivity=``): different events.
            pairs = [(a[0], b[0])]
    words = all(plain_difference(x, y) for x, y in pairs)
    text = "".join(parts).replace(_HOLE, WILDCARD)
    while "<*><*>" in text:
        text = text.replace("<*><*>", WILDCARD)
    return text, words


def merge_tokens(template: list[str], tokens: list[str]) -> list[str]:
    return [a if a == b else merge_token(a, b)[0]
            for a, b in zip(template, tokens, strict=True)]


_PATTERN_CACHE: dict[str, re.Pattern[str]] = {}


def token_pattern(template_token: str) -> re.Pattern[str]:
    pattern = _PATTERN_CACHE.get(template_token)
    if pattern is None:
        body = "(.*?)".join(re.escape(part) for part in template_token.split(WILDCARD))
        pattern = re.compile(f"^{body}$", re.DOTALL)
        if len(_PATTERN_CACHE) > 10_000:
            _PATTERN_CACHE.clear()
        _PATTERN_CACHE[template_token] = pattern
    return pattern


def covers(template: list[str], tokens: list[str]) -> bool:
    """True when every token of ``tokens`` is an instance of the template's token."""
    for a, b in zip(template, tokens, strict=True):
        if a in (b, WILDCARD):
            continue
        if WILDCARD not in a or token_pattern(a).match(b) is None:
            return False
    return True


def params_of(template_token: str, token: str) -> list[str]:
    if template_token == WILDCARD:
        return [token]
    found = token_pattern(template_token).match(token)
    return list(found.groups()) if found is not None else [token]


_DATED = DATETIME_MASK + "\x01"


def line_params(template: list[str], tokens: list[str]) -> list[str]:
    params: list[str] = []
    for tmpl, token in zip(template, tokens, strict=False):
        if WILDCARD in tmpl:
            if token.startswith(_DATED):
                params.append(token[len(_DATED):].replace("\x02", " "))
            elif tmpl == WILDCARD:
                params.append(token)  # what params_of gives, without the call
            else:
                params.extend(params_of(tmpl, token))
    return params


def params_at(template: list[str], positions: tuple[int, ...], tokens: list[str]) -> list[str]:
    """``line_params`` given the ascending positions of the template's ``<*>`` tokens,
    which a template keeps: the other tokens need not be looked at for every line."""
    params: list[str] = []
    count = len(tokens)
    for index in positions:
        if index >= count:
            break
        tmpl, token = template[index], tokens[index]
        if token.startswith(_DATED):
            params.append(token[len(_DATED):].replace("\x02", " "))
        elif tmpl == WILDCARD:
            params.append(token)
        else:
            params.extend(params_of(tmpl, token))
    return params


def run_params(template: list[str], run_at: int, tokens: list[str]) -> list[str]:
    """Values of a line whose template has a run of values at ``run_at`` (see below)."""
    if run_at < 0:
        return line_params(template, tokens)
    tail = len(template) - run_at - 1
    head = line_params(template[:run_at], tokens[:run_at])
    middle = " ".join(tokens[run_at:len(tokens) - tail])
    return [*head, middle, *line_params(template[run_at + 1:], tokens[len(tokens) - tail:])]


def _is_value(token: str) -> bool:
    """A token that is values and punctuation only (``<*>``, ``<*>,``, ``(<*>)``)."""
    return WILDCARD in token and not any(ch.isalnum() for ch in token.replace(WILDCARD, ""))


def value_run(template: list[str], tokens: list[str]) -> tuple[int, int] | None:
    """Where two token lists of different lengths differ only in a run of values.

    Lists of ids (``delete blk_1 blk_2 blk_3``) and stack traces make one event come in
    many lengths. Returns ``(start, tail)``: the run starts at ``start`` in both and is
    followed by ``tail`` equal tokens; None unless both runs are non-empty, hold only
    values (no words: ``user=<*>`` is a field, and an optional field is another event),
    and at least two constant words surround them, the first one leading.
    """
    n, m = len(tokens), len(template)
    if n == m or not n or not m or template[0] != tokens[0] or WILDCARD in template[0]:
        return None
    limit = min(n, m)
    start = 0
    while start < limit and template[start] == tokens[start]:
        start += 1
    tail = 0
    while tail < limit - start and template[m - 1 - tail] == tokens[n - 1 - tail]:
        tail += 1
    # A run that one side ends before the other: the value just before it belongs to it.
    while (start >= min(m, n) - tail and start > 1 and WILDCARD in template[start - 1]):
        start -= 1
    run_a, run_b = template[start:m - tail], tokens[start:n - tail]
    if not run_a or not run_b:
        return None
    if not all(map(_is_value, run_a)) or not all(map(_is_value, run_b)):
        return None
    words = sum(1 for t in (*template[:start], *template[m - tail:]) if WILDCARD not in t)
    return (start, tail) if words >= 2 else None


def fits_run(template: list[str], run_at: int, tokens: list[str]) -> bool:
    """True when ``tokens`` is an instance of a template with a value run at ``run_at``."""
    tail = len(template) - run_at - 1
    n = len(tokens)
    if n < len(template):
        return False
    middle = tokens[run_at:n - tail]
    return (bool(middle) and all(map(_is_value, middle))
            and covers(template[:run_at], tokens[:run_at])
            and covers(template[run_at + 1:], tokens[n - tail:]))
