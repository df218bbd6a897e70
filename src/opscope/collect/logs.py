"""Plain-text log lines: one record per line.

Only an *obvious* level is read here (an upper-case level word, ``level=...`` or a
bracketed ``[error]`` near the start of the line). Headers, timestamps and templates are
the business of log analysis, which sees the raw message unchanged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import ValidationError

from opscope.collect.batch import BatchResult, clean_message
from opscope.errors import PayloadTooLarge
from opscope.model import Level, LogRecord

MAX_MESSAGE = 65_536
_HEAD = 200  # a level word further into the line is part of the message, not a header

_LEVEL_TOKEN = re.compile(
    r"(?<![\w.-])(FATAL|CRITICAL|ERROR|WARNING|WARN|INFO|NOTICE|DEBUG|TRACE)(?![\w-])"
)
_LEVEL_FIELD = re.compile(r"""(?i)\b(?:level|severity|lvl)["']?\s*[=:]\s*["']?([a-z]+)""")
_LEVEL_BRACKET = re.compile(r"(?i)[\[<(](fatal|error|warn|warning|info|debug|trace)[\]>)]")
_LEVEL_WORDS = {
    "fatal": Level.FATAL, "critical": Level.FATAL, "crit": Level.FATAL, "panic": Level.FATAL,
    "error": Level.ERROR, "err": Level.ERROR,
    "warning": Level.WARNING, "warn": Level.WARNING,
    "info": Level.INFO, "notice": Level.INFO,
    "debug": Level.DEBUG, "trace": Level.DEBUG,
}


def guess_level(message: str) -> Level:
    """The level a line states plainly near its start, else ``unknown``."""
    head = message[:_HEAD]
    match = _LEVEL_TOKEN.search(head)
    if match is not None:
        return _LEVEL_WORDS[match.group(1).lower()]
    match = _LEVEL_FIELD.search(head) or _LEVEL_BRACKET.search(head)
    if match is not None:
        return _LEVEL_WORDS.get(match.group(1).lower(), Level.UNKNOWN)
    return Level.UNKNOWN


def split_lines(text: str) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; LF or CRLF endings.

    Only ``\\n`` ends a line: ``str.splitlines`` would also split on form feeds and
    Unicode separators that belong to the message.
    """
    out: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if line and not line.isspace():
            out.append((number, line))
    return out


def parse_log_lines(
    text: str, received_at: datetime, source: str, entity: str, max_lines: int,
) -> BatchResult[LogRecord]:
    """One LogRecord per non-blank line, stamped ``received_at``.

    A problem's ``index`` is the 1-based line number. More than ``max_lines`` non-blank
    lines raise :class:`~opscope.errors.PayloadTooLarge`; a line longer than 65,536
    characters is a problem (the other lines are kept).
    """
    result: BatchResult[LogRecord] = BatchResult()
    for what, value in (("source", source), ("entity", entity)):
        if len(value) > 256:
            result.add_problem(None, what, f"{what} is longer than 256 characters")
    if result.problems:
        return result
    lines = split_lines(text)
    if len(lines) > max_lines:
        raise PayloadTooLarge(f"body has {len(lines)} lines; the limit is {max_lines}",
                              count=len(lines), limit=max_lines)
    ts = received_at.replace(tzinfo=UTC) if received_at.tzinfo is None else received_at
    items = result.items
    for number, line in lines:
        if len(line) > MAX_MESSAGE:
            result.add_problem(number, "line", f"line is longer than {MAX_MESSAGE} characters")
            continue
        try:
            items.append(LogRecord(ts=ts, message=line, source=source, entity=entity,
                                   level=guess_level(line)))
        except ValidationError as exc:  # pragma: no cover - every field was checked above
            result.add_problem(number, "line", clean_message(exc.errors()[0]["msg"]))
    return result
