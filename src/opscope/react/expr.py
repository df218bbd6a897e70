"""A small, safe expression language for rule conditions.

Conditions are parsed by a hand-written recursive-descent parser and compiled into
closures: nothing is ever handed to ``eval``, attribute access on Python objects is
impossible (field paths only look up keys of the trigger's JSON-like dict), and every
function is from a fixed table. Parse errors carry the 0-based offset in the text so the
rule loader can point at the line and column in the YAML file.

Grammar (whitespace between tokens is ignored)::

    expr      := or
    or        := and ( "or" and )*
    and       := not ( "and" not )*
    not       := "not" not | compare
    compare   := operand [ cmp_op operand ]
    cmp_op    := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in"
    operand   := literal | list | call | path | "(" expr ")"
    call      := NAME "(" [ expr ( "," expr )* ] ")"
    path      := NAME ( "." NAME | "[" ( STRING | INT ) "]" )*
    list      := "[" [ expr ( "," expr )* ] "]"
    literal   := STRING | NUMBER | "true" | "false" | "null"
    STRING    := '"' ... '"' | "'" ... "'"     (escapes: \\ \" \' \n \t)
    NUMBER    := [-] digits [ "." digits ]
    NAME      := letter or "_", then letters, digits, "_" or "-"

Semantics: a path that does not exist is ``null``; ``<``, ``<=``, ``>``, ``>=`` between
values of different types are false rather than errors; ``x in y`` works on lists,
strings (substring) and maps (key). Functions:

* ``contains(s, part)``, ``startswith(s, prefix)``, ``endswith(s, suffix)``: strings
  (``contains`` also tests list membership); false when ``s`` is not a string or list.
* ``matches(s, "regex")``: ``re.search``. The pattern must be a string literal so it is
  compiled and vetted at load time: at most 256 characters, and no group that holds an
  unbounded repeat and is itself repeated (``(a+)+``, ``(x*y*)*``), the shape behind
  catastrophic backtracking. The subject is cut to its first 8192 characters.
* ``lower(s)``, ``upper(s)``, ``len(x)``, ``exists(x)`` (not null), ``severity(s)``
  (rank of a severity spelling: info 0, warning 1, error 2, critical 3; -1 if unknown).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opscope.errors import ValidationFailed
from opscope.model.events import parse_severity

MAX_EXPRESSION = 4096
MAX_DEPTH = 48
MAX_PATTERN = 256
MAX_SUBJECT = 8192

Evaluator = Callable[[Mapping[str, Any]], Any]


class ExpressionError(ValidationFailed):
    """A condition does not parse; ``offset`` is where in the text the problem is."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, [{"index": None, "field": "when", "message": message}])
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # name, string, number, op, end
    text: str
    value: Any
    offset: int


_OPS = ("==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ",", ".")
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION} characters", 0)
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            value, end = _read_string(text, i)
            tokens.append(Token("string", text[i:end], value, i))
            i = end
            continue
        number = _NUMBER.match(text, i)
        if number and (ch != "-" or _minus_is_sign(tokens)):
            raw = number.group(0)
            tokens.append(Token("number", raw, float(raw) if "." in raw else int(raw), i))
            i = number.end()
            continue
        name = _NAME.match(text, i)
        if name:
            tokens.append(Token("name", name.group(0), name.group(0), i))
            i = name.end()
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is None:
            raise ExpressionError(f"unexpected character {ch!r}", i)
        tokens.append(Token("op", op, op, i))
        i += len(op)
    tokens.append(Token("end", "", None, len(text)))
    return tokens


def _minus_is_sign(tokens: list[Token]) -> bool:
    # "a -1" never occurs (no arithmetic), so a minus is a sign unless it follows a value.
    return not tokens or (tokens[-1].kind == "op" and tokens[-1].text not in (")", "]"))


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt not in _ESCAPES:
                raise ExpressionError(f"unknown escape \\{nxt}", i)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ExpressionError("string is not closed", start)


# --- regex vetting ---------------------------------------------------------------------


def vet_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a pattern after refusing the shapes that backtrack catastrophically."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"pattern is longer than {MAX_PATTERN} characters")
    if _has_nested_repeat(pattern):
        raise ValueError("pattern repeats a group that itself holds an unbounded repeat")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from exc


def _has_nested_repeat(pattern: str) -> bool:
    # One pass with a stack of "this group holds an unbounded repeat" flags.
    stack: list[bool] = [False]
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            stack.append(False)
        elif ch == ")" and len(stack) > 1:
            inner = stack.pop()
            if inner and _unbounded_at(pattern, i + 1):
                return True
            stack[-1] = stack[-1] or inner
        elif _unbounded_at(pattern, i):
            stack[-1] = True
        i += 1
    return False


_OPEN_RANGE = re.compile(r"\{\d*,\}")


def _unbounded_at(pattern: str, index: int) -> bool:
    if index >= len(pattern):
        return False
    return pattern[index] in "*+" or _OPEN_RANGE.match(pattern, index) is not None


# --- functions -------------------------------------------------------------------------


def _as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, str):
        return isinstance(needle, str) and needle in haystack
    if isinstance(haystack, list | tuple):
        return needle in haystack
    return False


def _startswith(value: Any, prefix: Any) -> bool:
    text = _as_text(value)
    return text is not None and isinstance(prefix, str) and text.startswith(prefix)


def _endswith(value: Any, suffix: Any) -> bool:
    text = _as_text(value)
    return text is not None and isinstance(suffix, str) and text.endswith(suffix)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _len(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _exists(value: Any) -> bool:
    return value is not None


def _severity(value: Any) -> int:
    try:
        return parse_severity(value).rank
    except ValueError:
        return -1


FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "contains": (2, _contains),
    "startswith": (2, _startswith),
    "endswith": (2, _endswith),
    "lower": (1, _lower),
    "upper": (1, _upper),
    "len": (1, _len),
    "exists": (1, _exists),
    "severity": (1, _severity),
}


# --- comparison ------------------------------------------------------------------------


def _ordered(op: str) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        numbers = (int, float)
        same = (
            isinstance(left, numbers)
            and isinstance(right, numbers)
            and not isinstance(left, bool)
            and not isinstance(right, bool)
        )
        if not same and not (isinstance(left, str) and isinstance(right, str)):
            return False
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)

    return compare


def _member(left: Any, right: Any) -> bool:
    if isinstance(right, str):
        return isinstance(left, str) and left in right
    if isinstance(right, list | tuple | dict):
        try:
            return left in right
        except TypeError:  # unhashable key looked up in a map
            return False
    return False


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": _ordered("<"),
    "<=": _ordered("<="),
    ">": _ordered(">"),
    ">=": _ordered(">="),
    "in": _member,
    "not in": lambda a, b: not _member(a, b),
}


# --- parser ----------------------------------------------------------------------------


def _chain(parts: list[Evaluator], either: bool) -> Evaluator:
    # Nested pairs, right to left: cheaper per call than all()/any() over a generator.
    fn = parts[-1]
    for part in reversed(parts[:-1]):
        fn = _pair(part, fn, either)
    return fn


def _pair(first: Evaluator, second: Evaluator, either: bool) -> Evaluator:
    if either:
        return lambda ctx: bool(first(ctx)) or bool(second(ctx))
    return lambda ctx: bool(first(ctx)) and bool(second(ctx))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def _is(self, kind: str, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text == text)

    def _keyword(self, word: str) -> bool:
        return self._is("name", word)

    def _expect(self, kind: str, text: str) -> Token:
        if not self._is(kind, text):
            raise ExpressionError(f"expected {text!r}, found {self._describe()}", self.tok.offset)
        tok = self.tok
        self.pos += 1
        return tok

    def _describe(self) -> str:
        return "end of expression" if self.tok.kind == "end" else repr(self.tok.text)

    def parse(self) -> Evaluator:
        fn = self.parse_or()
        if not self._is("end"):
            raise ExpressionError(f"unexpected {self._describe()}", self.tok.offset)
        return fn

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError("expression is nested too deeply", self.tok.offset)

    def parse_or(self) -> Evaluator:
        parts = [self.parse_and()]
        while self._keyword("or"):
            self.pos += 1
            parts.append(self.parse_and())
        return _chain(parts, either=True)

    def parse_and(self) -> Evaluator:
        parts = [self.parse_not()]
        while self._keyword("and"):
            self.pos += 1
            parts.append(self.parse_not())
        return _chain(parts, either=False)

    def parse_not(self) -> Evaluator:
        if self._keyword("not"):
            self.pos += 1
            self._deeper()
            inner = self.parse_not()
            self.depth -= 1
            return lambda ctx: not inner(ctx)
        return self.parse_compare()

    def parse_compare(self) -> Evaluator:
        left = self.parse_operand()
        op: str | None = None
        if self._is("op") and self.tok.text in _COMPARE:
            op = self.tok.text
            self.pos += 1
        elif self._keyword("in"):
            op = "in"
            self.pos += 1
        elif self._keyword("not") and self.tokens[self.pos + 1].text == "in":
            op = "not in"
            self.pos += 2
        if op is None:
            return left
        right = self.parse_operand()
        compare = _COMPARE[op]
        return lambda ctx: compare(left(ctx), right(ctx))

    def parse_operand(self) -> Evaluator:
        tok = self.tok
        if tok.kind in ("string", "number"):
            self.pos += 1
            value = tok.value
            return lambda _ctx: value
        if self._is("op", "("):
            self.pos += 1
            self._deeper()
            inner = self.parse_or()
            self.depth -= 1
            self._expect("op", ")")
            return inner
        if self._is("op", "["):
            return self.parse_list()
        if tok.kind == "name":
            if tok.text in ("true", "false", "null"):
                self.pos += 1
                constant = {"true": True, "false": False, "null": None}[tok.text]
                return lambda _ctx: constant
            if tok.text in _KEYWORDS:
                raise ExpressionError(f"unexpected keyword {tok.text!r}", tok.offset)
            if self.tokens[self.pos + 1].text == "(":
                return self.parse_call()
            return self.parse_path()
        raise ExpressionError(f"expected a value, found {self._describe()}", tok.offset)

    def parse_list(self) -> Evaluator:
        self._expect("op", "[")
        items = self._arguments("]")
        return lambda ctx: [item(ctx) for item in items]

    def _arguments(self, closing: str) -> list[Evaluator]:
        items: list[Evaluator] = []
        self._deeper()
        if not self._is("op", closing):
            items.append(self.parse_or())
            while self._is("op", ","):
                self.pos += 1
                items.append(self.parse_or())
        self._expect("op", closing)
        self.depth -= 1
        return items

    def parse_call(self) -> Evaluator:
        name_tok = self.tok
        self.pos += 2  # name and "("
        if name_tok.text == "matches":
            return self._parse_matches(name_tok)
        if name_tok.text not in FUNCTIONS:
            known = ", ".join(sorted([*FUNCTIONS, "matches"]))
            raise ExpressionError(
                f"unknown function {name_tok.text!r}; known: {known}", name_tok.offset
            )
        arity, fn = FUNCTIONS[name_tok.text]
        args = self._arguments(")")
        if len(args) != arity:
            raise ExpressionError(
                f"{name_tok.text}() takes {arity} argument(s), got {len(args)}", name_tok.offset
            )
        if arity == 1:
            only = args[0]
            literal = self.tokens[self.pos - 2].kind in ("string", "number")
            if literal and self.tokens[self.pos - 3].text == "(":
                folded = fn(only({}))  # a literal argument: compute once, at load time
                return lambda _ctx: folded
            return lambda ctx: fn(only(ctx))
        first, second = args
        return lambda ctx: fn(first(ctx), second(ctx))

    def _parse_matches(self, name_tok: Token) -> Evaluator:
        subject = self.parse_or()
        self._expect("op", ",")
        pattern_tok = self.tok
        if pattern_tok.kind != "string":
            raise ExpressionError("matches() needs a string literal pattern", pattern_tok.offset)
        self.pos += 1
        self._expect("op", ")")
        try:
            regex = vet_pattern(pattern_tok.value)
        except ValueError as exc:
            raise ExpressionError(str(exc), pattern_tok.offset) from exc

        def matches(ctx: Mapping[str, Any]) -> bool:
            value = subject(ctx)
            return isinstance(value, str) and regex.search(value[:MAX_SUBJECT]) is not None

        return matches

    def parse_path(self) -> Evaluator:
        keys: list[str | int] = [self.tok.text]
        self.pos += 1
        while True:
            if self._is("op", "."):
                self.pos += 1
                if self.tok.kind != "name":
                    raise ExpressionError("expected a field name after '.'", self.tok.offset)
                keys.append(self.tok.text)
                self.pos += 1
            elif self._is("op", "["):
                self.pos += 1
                if self.tok.kind == "string" or (
                    self.tok.kind == "number" and isinstance(self.tok.value, int)
                ):
                    keys.append(self.tok.value)
                    self.pos += 1
                else:
                    raise ExpressionError("expected a string or an integer index", self.tok.offset)
                self._expect("op", "]")
            else:
                break
        path = tuple(keys)
        return lambda ctx: lookup(ctx, path)


def lookup(data: Any, path: tuple[str | int, ...]) -> Any:
    """Follow a field path through maps and lists; ``None`` when any step is missing."""
    current = data
    for key in path:
        # Exact dict first: triggers are plain dicts and the ABC check behind Mapping is
        # several times slower; other mappings still work through the last branch.
        if type(current) is dict:
            current = current.get(key)
        elif type(key) is int and isinstance(current, list):
            current = current[key] if -len(current) <= key < len(current) else None
        elif isinstance(current, Mapping):
            current = current.get(key)
        else:
            return None
        if current is None:
            return None
    return current


@dataclass(frozen=True)
class Condition:
    """A compiled condition; call :meth:`test` with the trigger's fields."""

    source: str
    evaluate: Evaluator

    def test(self, fields: Mapping[str, Any]) -> bool:
        return bool(self.evaluate(fields))


def compile_condition(text: str) -> Condition:
    """Parse ``text``; raise :class:`ExpressionError` with an offset when it is invalid."""
    if not text.strip():
        return Condition(text, lambda _ctx: True)
    return Condition(text, _Parser(text).parse())
