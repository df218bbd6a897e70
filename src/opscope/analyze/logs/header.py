"""Header parsing: split a raw log line into timestamp, level, host, component, pid, content.

Raw lines from syslog, files and containers start with a header whose shape depends on
the sender. :class:`HeaderParser` knows the common shapes (RFC 5424 and RFC 3164 syslog,
ISO timestamps with a level, log4j/logback, Android logcat, Apache error logs, Spark and
HDFS style short dates, pipe-separated records, ...) and picks the first that matches,
trying the last successful shape first since one source rarely changes format. A user may
instead give a layout such as ``<Date> <Time> <Level> <Component>: <Content>``
(:meth:`HeaderFormat.from_layout`), the notation the Loghub benchmark uses.

A line no shape matches is all content. Timestamps without a year (classic syslog) take
the year of ``reference``, an event-time hint the caller supplies, never the wall clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

from opscope.errors import ValidationFailed
from opscope.model.logs import LEVEL_ALIASES, Level, parse_level


class ParsedLine(NamedTuple):
    """The fields of one line (a named tuple: built for every line, cheaply)."""

    content: str
    ts: datetime | None = None
    level: Level = Level.UNKNOWN
    host: str = ""
    component: str = ""
    pid: str = ""
    shape: str = ""


_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LEVEL = (
    r"(?P<level>(?i:TRACE|DEBUG|INFO|INFORMATION|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|FATAL"
    r"|CRITICAL|CRIT|ALERT|EMERG|PANIC|FINE|FINER|FINEST|VERBOSE))"
)
_UPPER_LEVEL = (r"(?P<ulevel>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|FATAL"
                r"|CRITICAL|CRIT)")
_ISO = (r"(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?)")

# (name, regex). Order matters: specific shapes before the generic ones they resemble.
_SHAPES: list[tuple[str, str]] = [
    ("rfc5424",
     r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<component>\S+) (?P<pid>\S+) \S+ "
     r"(?:-|(?:\[.*?\])+) ?(?P<content>.*)$"),
    ("rfc3164",
     rf"^(?:<(?P<pri>\d{{1,3}})>)?(?P<ts>{_MON} +\d{{1,2}} \d{{2}}:\d{{2}}:\d{{2}}) "
     r"(?P<host>\S+) +(?:-- )?(?P<component>[^\s:\[]+(?: v?[\d.]+)?)"
     r"(?:\[(?P<pid>\d+(?:\.\d+)?)\])?: ?(?P<content>.*)$"),
    ("iso-level-bracket",
     rf"^{_ISO},? *(?:- *)?{_LEVEL} +\[(?P<component>.+?)\](?: -)? +(?P<content>.*)$"),
    ("iso-pid-level",
     rf"^{_ISO} +(?P<pid>\d+) +{_LEVEL} +(?P<component>\S+)(?: \[[^\]]*\])? "
     r"(?P<content>.*)$"),
    ("iso-level",
     rf"^{_ISO},? *(?:- *)?{_LEVEL}:? +(?:(?P<component>[\w.$/-]+): )?(?P<content>.*)$"),
    ("iso-word-level",
     rf"^{_ISO},? +{_LEVEL} +(?P<component>\S+) +(?P<content>.*)$"),
    ("short-date-pid",
     r"^(?P<ts>\d{6} \d{6}) +(?P<pid>\d+) +" + _LEVEL
     + r" +(?P<component>[^\s:]+): (?P<content>.*)$"),
    ("slash-date",
     r"^(?P<ts>\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) +" + _LEVEL
     + r" +(?P<component>[^\s:]+): (?P<content>.*)$"),
    ("logcat",
     r"^(?P<ts>\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) +(?P<pid>\d+) +\d+ "
     r"(?P<level>[VDIWEFA]) (?P<component>.*?): (?P<content>.*)$"),
    ("apache",
     rf"^\[(?P<ts>{_DAY} {_MON} \d{{2}} \d{{2}}:\d{{2}}:\d{{2}}(?:\.\d+)? \d{{4}})\] "
     r"\[(?P<level>[a-z]+)(?::[a-z0-9]+)?\] (?P<content>.*)$"),
    ("pipe",
     r"^(?P<ts>\d{8}-\d{1,2}:\d{1,2}:\d{1,2}:\d{1,3})\|(?P<component>[^|]*)\|(?P<pid>[^|]*)\|"
     r"(?P<content>.*)$"),
    ("bracket-ts",
     r"^\[(?P<ts>[^\]]{0,30}\d:\d\d[^\]]{0,20})\] (?:\[?" + _LEVEL + r"\]?:? )?"
     r"(?P<content>.*)$"),
    ("epoch-ras",
     r"^(?P<label>\S+) (?P<epoch>\d{9,10}) \d{4}\.\d{2}\.\d{2} (?P<host>\S+) "
     r"(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d+) \S+ \S+ (?P<component>\S+) "
     + _LEVEL + r" (?P<content>.*)$"),
    ("epoch-syslog",
     rf"^(?P<label>\S+) (?P<epoch>\d{{9,10}}) \d{{4}}\.\d{{2}}\.\d{{2}} (?P<host>\S+) "
     rf"{_MON} +\d{{1,2}} \d{{2}}:\d{{2}}:\d{{2}} \S+ (?P<component>[^\s:\[]+)"
     r"(?:\[(?P<pid>\d+)\])?: ?(?P<content>.*)$"),
    # A bare level word only counts in capitals or brackets: "Error reading x" is content.
    ("level-first",
     rf"^(?:\[{_LEVEL}\]:?|{_UPPER_LEVEL}:?) +(?:{_ISO} +)?(?P<content>.*)$"),
]

_TS_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S",
    "%y%m%d %H%M%S", "%y/%m/%d %H:%M:%S", "%a %b %d %H:%M:%S.%f %Y", "%a %b %d %H:%M:%S %Y",
    "%Y-%m-%d-%H.%M.%S.%f", "%Y%m%d-%H:%M:%S:%f", "%d/%b/%Y:%H:%M:%S %z",
)


# A source writes one timestamp form, so the form that read a shape of text (digits
# folded to 9) is tried first next time: one strptime per line instead of a dozen.
_DIGITS = str.maketrans("012345678", "999999999")
_FORM_BY_SHAPE: dict[str, str | None] = {}
_MAX_SHAPES = 4096


def _read(candidate: str, forms: tuple[str, ...], key: str) -> datetime | None:
    shape = key + candidate.translate(_DIGITS)
    known = _FORM_BY_SHAPE.get(shape, "")
    if known is None:
        return None
    if known:
        try:
            return datetime.strptime(candidate, known)
        except ValueError:
            pass
    for fmt in forms:
        try:
            value = datetime.strptime(candidate, fmt)
        except ValueError:
            continue
        if len(_FORM_BY_SHAPE) >= _MAX_SHAPES:
            _FORM_BY_SHAPE.clear()
        _FORM_BY_SHAPE[shape] = fmt
        return value
    if len(_FORM_BY_SHAPE) >= _MAX_SHAPES:
        _FORM_BY_SHAPE.clear()
    _FORM_BY_SHAPE[shape] = None
    return None


_YEARLESS_FORMATS = ("%Y %b %d %H:%M:%S", "%Y %m-%d %H:%M:%S.%f", "%Y %m.%d %H:%M:%S")


def parse_timestamp(text: str, reference: datetime | None = None) -> datetime | None:
    """Read the timestamp forms found in log headers; None when none fits.

    Forms without a year (``Jun 14 15:16:01``, ``03-17 16:13:38.811``) take the year of
    ``reference`` and stay None without one.
    """
    text = text.strip()
    if text.isdigit() and len(text) in (10, 13):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return datetime.fromtimestamp(seconds, UTC)
    candidate = text.replace(",", ".").replace("Z", "+0000")
    value = _read(candidate, _TS_FORMATS, "")
    if value is not None:
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if reference is None:
        return None
    yearless = f"{reference.year} {' '.join(candidate.split())}"
    value = _read(yearless, _YEARLESS_FORMATS, "y")
    if value is None:
        return None
    return value.replace(tzinfo=reference.tzinfo or UTC)


_GROUPS = ("ts", "level", "ulevel", "host", "component", "pid", "pri", "epoch", "content")


class HeaderFormat:
    """One header shape: a compiled regex with named groups, including ``content``."""

    def __init__(self, name: str, pattern: str | re.Pattern[str]) -> None:
        self.name = name
        self.regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        if "content" not in self.regex.groupindex:
            raise ValidationFailed(f"header format {name!r} needs a <Content> field")
        index = self.regex.groupindex
        # Where each named group is in ``match.groups()`` (-1: not in this shape), read
        # once here rather than through a dict of all groups for every line.
        self.slots: tuple[int, ...] = tuple(index.get(name, 0) - 1 for name in _GROUPS)
        # Layout fields (``f_<name>``) and the output each one feeds, in group order.
        self.fields: tuple[tuple[int, str | None], ...] = tuple(
            (number - 1, _FIELD_ROLES.get(re.sub(r"_\d+$", "", key[2:]).lower()))
            for key, number in index.items() if key.startswith("f_"))

    @classmethod
    def from_layout(cls, layout: str, name: str = "custom") -> HeaderFormat:
        """Build a shape from ``<Field>`` placeholders, e.g. ``<Date> <Time> <Content>``.

        Fields match lazily and ``<Content>`` greedily; a run of spaces matches any run of
        whitespace; the line is anchored at both ends. ``\\[`` in the layout is a literal
        bracket. Field names map to outputs case-insensitively: Date/Time/Timestamp → ts,
        Level, Host/Node, Component, Pid; others are read and dropped.
        """
        if "<Content>" not in layout:
            raise ValidationFailed("a header layout needs a <Content> field")
        parts = re.split(r"(<[A-Za-z_][A-Za-z0-9_]*>)", layout)
        regex = ""
        seen: dict[str, int] = {}
        for part in parts:
            if part.startswith("<") and part.endswith(">"):
                field = part[1:-1]
                seen[field] = seen.get(field, 0) + 1
                group = re.sub(r"\W", "_", field) + (f"_{seen[field]}" if seen[field] > 1 else "")
                group = "content" if field == "Content" else f"f_{group}"
                regex += f"(?P<{group}>.*)" if field == "Content" else f"(?P<{group}>.*?)"
            else:
                regex += re.sub(r" +", r"\\s+", part)
        return cls(name, f"^{regex}$")


_FIELD_ROLES = {
    "date": "ts", "time": "ts", "timestamp": "ts", "day": "ts", "month": "ts",
    "level": "level", "severity": "level", "host": "host", "node": "host",
    "hostname": "host", "component": "component", "app": "component", "logger": "component",
    "pid": "pid", "process": "pid",
}


_MAX_STREAMS = 4096  # senders whose last shape is remembered


class HeaderParser:
    """Detects the header shape of each line; see the module doc."""

    def __init__(self, layout: str | None = None, reference: datetime | None = None,
                 timestamps: bool = True) -> None:
        self.reference = reference
        # Reading the timestamp is most of the cost of a line; callers that keep the
        # record's own time (log analysis) switch it off.
        self.timestamps = timestamps
        if layout is not None:
            self._shapes = [HeaderFormat.from_layout(layout)]
        else:
            self._shapes = [HeaderFormat(name, pattern) for name, pattern in _SHAPES]
        self._last = 0
        self._last_by_stream: dict[tuple[str, str], int] = {}

    def parse(self, line: str, stream: tuple[str, str] | None = None) -> ParsedLine:
        """The fields of ``line``. ``stream`` names its sender (source, entity): each
        sender's last shape is then tried first, so that interleaved senders with
        different formats do not each start the search over."""
        line = line.rstrip("\r\n")
        shapes = self._shapes
        known = self._last_by_stream.get(stream) if stream is not None else None
        last = self._last if known is None else known
        shape = shapes[last]
        found = shape.regex.match(line)
        if found is not None:
            if stream is not None and known is None:
                self._remember(stream, last)
            return self._build(shape, found)
        for index, shape in enumerate(shapes):
            if index == last:
                continue
            found = shape.regex.match(line)
            if found is not None:
                self._last = index
                if stream is not None:
                    self._remember(stream, index)
                return self._build(shape, found)
        return ParsedLine(content=line.strip())

    def _remember(self, stream: tuple[str, str], index: int) -> None:
        if len(self._last_by_stream) >= _MAX_STREAMS:
            self._last_by_stream.clear()
        self._last_by_stream[stream] = index

    def parse_batch(self, lines: list[str]) -> list[ParsedLine]:
        return [self.parse(line) for line in lines]

    def _build(self, shape: HeaderFormat, found: re.Match[str]) -> ParsedLine:
        values = found.groups()
        at_ts, at_level, at_ulevel, at_host, at_component, at_pid, at_pri, at_epoch, at_content = (
            shape.slots)
        ts_text = (values[at_ts] if at_ts >= 0 else None) or ""
        level_text = ((values[at_level] if at_level >= 0 else None)
                      or (values[at_ulevel] if at_ulevel >= 0 else None) or "")
        host = (values[at_host] if at_host >= 0 else None) or ""
        component = (values[at_component] if at_component >= 0 else None) or ""
        pid = (values[at_pid] if at_pid >= 0 else None) or ""
        pri = values[at_pri] if at_pri >= 0 else None
        if shape.fields:
            custom_ts: list[str] = []
            for at, role in shape.fields:
                value = values[at]
                if value is None:
                    continue
                if role == "ts":
                    custom_ts.append(value)
                elif role == "level":
                    level_text = value
                elif role == "host":
                    host = value
                elif role == "component":
                    component = value
                elif role == "pid":
                    pid = value
            if custom_ts:
                ts_text = " ".join(custom_ts)
        ts = None
        if self.timestamps:
            ts = parse_timestamp(ts_text, self.reference) if ts_text else None
            epoch = values[at_epoch] if at_epoch >= 0 else None
            if ts is None and epoch is not None:
                ts = parse_timestamp(epoch)
            if ts is None and pri is not None and shape.name == "rfc5424" and ts_text:
                ts = _parse_rfc3339(ts_text)
        level = _level_of(level_text)
        if level is Level.UNKNOWN and pri is not None:
            level = _SYSLOG_SEVERITY[int(pri) % 8]
        content = values[at_content]
        return ParsedLine(
            content=content.strip() if content is not None else "", ts=ts, level=level,
            host=host.strip(), component=component.strip(),
            pid=pid.strip().removesuffix(".0"), shape=shape.name,
        )


_SYSLOG_SEVERITY = (Level.FATAL, Level.FATAL, Level.FATAL, Level.ERROR, Level.WARNING,
                    Level.INFO, Level.INFO, Level.DEBUG)
_LOGCAT = {"V": Level.DEBUG, "D": Level.DEBUG, "I": Level.INFO, "W": Level.WARNING,
           "E": Level.ERROR, "F": Level.FATAL, "A": Level.FATAL}


# Level words repeat on every line: remember how each spelling reads (a bounded table).
_LEVEL_BY_TEXT: dict[str, Level] = {}
_MAX_LEVEL_TEXTS = 1024


def _level_of(text: str) -> Level:
    known = _LEVEL_BY_TEXT.get(text)
    if known is not None:
        return known
    level = _read_level(text)
    if len(_LEVEL_BY_TEXT) < _MAX_LEVEL_TEXTS:
        _LEVEL_BY_TEXT[text] = level
    return level


def _read_level(text: str) -> Level:
    text = text.strip()
    if len(text) == 1 and text in _LOGCAT:
        return _LOGCAT[text]
    if text.lower() in LEVEL_ALIASES:
        return parse_level(text)
    return Level.UNKNOWN


def _parse_rfc3339(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone(timedelta(0)))
    return value
