"""Prometheus text exposition format 0.0.4 (what ``/metrics`` endpoints serve).

Every sample line becomes one :class:`~opscope.model.MetricSample`. Histograms and
summaries are already flattened by the format itself: ``name_bucket{le=...}``, ``name_sum``
and ``name_count`` for histograms, ``name{quantile=...}``, ``name_sum`` and ``name_count``
for summaries. This parser checks that those carry their ``le`` / ``quantile`` label.

This is on the ingestion hot path, so it is a hand-written line scanner rather than a
grammar, and it builds samples without a second validation pass: every invariant of
MetricSample (name pattern, label bounds, UTC time) is checked here instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from opscope.collect.batch import BatchResult
from opscope.errors import PayloadTooLarge
from opscope.model import MetricSample

METRIC_TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_PAIR = re.compile(
    r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,?)[ \t]*'
)
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MAX_LABELS = 64
MAX_LABEL_NAME = 128
MAX_LABEL_VALUE = 4096
MAX_NAME = 256


class ExpositionError(ValueError):
    """One line of exposition text is malformed; the message says how."""


def _unescape(value: str) -> str:
    # Only \\, \" and \n are escapes; any other backslash is kept as written.
    return _ESCAPE.sub(lambda m: _UNESCAPE.get(m.group(1), m.group(0)), value)


def _parse_float(text: str) -> float:
    # float() also takes "1_000", "infinity " and non-ASCII digits; Go's parser does not.
    if "_" in text or not text.isascii():
        raise ExpositionError(f"invalid value {text[:40]!r}")
    try:
        return float(text)
    except ValueError:
        raise ExpositionError(f"invalid value {text[:40]!r}") from None


def _parse_labels(line: str, start: int) -> tuple[dict[str, str], int]:
    """Parse ``{a="1",b="2"}`` from ``line[start]`` (the brace); return labels and the end."""
    labels: dict[str, str] = {}
    pos = start + 1
    length = len(line)
    while True:
        while pos < length and line[pos] in " \t":
            pos += 1
        if pos < length and line[pos] == "}":
            return labels, pos + 1
        match = _LABEL_PAIR.match(line, pos)
        if match is None:
            raise ExpositionError(f"malformed label set at column {pos + 1}")
        name, value, comma = match.groups()
        if "\\" in value:
            value = _unescape(value)
        if name in labels:
            raise ExpositionError(f"duplicate label {name!r}")
        if len(name) > MAX_LABEL_NAME or len(value) > MAX_LABEL_VALUE:
            raise ExpositionError(f"label {name[:40]!r} is too long")
        labels[name] = value
        pos = match.end()
        if not comma:
            if pos < length and line[pos] == "}":
                return labels, pos + 1
            raise ExpositionError(f"expected ',' or '}}' at column {pos + 1}")


class _Scanner:
    """State of one parse: declared types and the current default timestamp."""

    def __init__(self, default_ts: datetime, extra_labels: Mapping[str, str] | None) -> None:
        self.default_ts = (default_ts.replace(tzinfo=UTC) if default_ts.tzinfo is None
                           else default_ts.astimezone(UTC))
        self.extra = dict(extra_labels or {})
        self.types: dict[str, str] = {}
        # Histogram and summary families only: the ones whose samples need a checked label.
        self.families: dict[str, str] = {}
        self._last_ms: int | None = None
        self._last_ts = self.default_ts

    def comment(self, line: str) -> None:
        parts = line.split(None, 3)
        if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
            return  # any other comment, including OpenMetrics' "# EOF"
        name = parts[2]
        if not _METRIC_NAME.match(name):
            raise ExpositionError(f"invalid metric name {name[:40]!r} in {parts[1]}")
        if parts[1] == "TYPE":
            kind = parts[3].strip() if len(parts) > 3 else ""
            if kind not in METRIC_TYPES:
                raise ExpositionError(f"unknown metric type {kind[:20]!r} for {name}")
            if name in self.types:
                raise ExpositionError(f"second TYPE line for {name}")
            self.types[name] = kind
            if kind in ("histogram", "summary"):
                self.families[name] = kind

    def sample(self, line: str) -> MetricSample:
        brace = line.find("{")
        if brace >= 0:
            name = line[:brace].rstrip()
            labels, end = _parse_labels(line, brace)
            rest = line[end:].split()
        else:
            name, _, tail = line.partition(" ")
            if "\t" in name:  # tabs are separators too, and rare enough to split again
                name, _, more = name.partition("\t")
                tail = f"{more} {tail}"
            rest = tail.split()
            labels = {}
        if not _METRIC_NAME.match(name) or len(name) > MAX_NAME:
            raise ExpositionError(f"invalid metric name {name[:40]!r}")
        if not rest or len(rest) > 2:
            raise ExpositionError("expected a value and an optional timestamp after the name")
        value = _parse_float(rest[0])
        ts = self._timestamp(rest[1]) if len(rest) == 2 else self.default_ts
        if self.families:
            self._check_family(name, labels)
        if self.extra:
            labels = self._with_extra(labels)
        if len(labels) > MAX_LABELS:
            raise ExpositionError(f"more than {MAX_LABELS} labels")
        # Validated construction runs in pydantic's compiled core and is faster than
        # model_construct; every invariant it checks was already checked above.
        return MetricSample(name=name, labels=labels, value=value, ts=ts)

    def _timestamp(self, text: str) -> datetime:
        if "_" in text or not text.isascii():
            raise ExpositionError(f"invalid timestamp {text[:40]!r}")
        try:
            ms = int(text)
        except ValueError:
            raise ExpositionError(f"invalid timestamp {text[:40]!r}") from None
        if ms != self._last_ms:  # scrapes repeat one timestamp; convert it once
            try:
                self._last_ts = _EPOCH + timedelta(milliseconds=ms)
            except OverflowError:
                raise ExpositionError(f"timestamp {text[:40]} is out of range") from None
            self._last_ms = ms
        return self._last_ts

    def _check_family(self, name: str, labels: dict[str, str]) -> None:
        if name.endswith("_bucket"):
            if self.families.get(name[:-7]) == "histogram":
                _require_number_label(labels, "le", name)
        elif self.families.get(name) == "summary":
            _require_number_label(labels, "quantile", name)

    def _with_extra(self, labels: dict[str, str]) -> dict[str, str]:
        # As Prometheus does with honor_labels off: the scraper's labels win and a clashing
        # exposed label is kept as exported_<name>.
        out = dict(labels)
        for key, value in self.extra.items():
            if key in out and out[key] != value:
                out[f"exported_{key}"] = out[key]
            out[key] = value
        return out


def _require_number_label(labels: dict[str, str], key: str, name: str) -> None:
    value = labels.get(key)
    if value is None:
        raise ExpositionError(f"{name} has no {key} label")
    _parse_float(value)


def parse_exposition(
    text: str,
    default_ts: datetime,
    extra_labels: Mapping[str, str] | None = None,
    max_samples: int = 1_000_000,
) -> BatchResult[MetricSample]:
    """Parse exposition text into samples; bad lines become problems, the rest is kept.

    A problem's ``index`` is the 1-based line number and its ``field`` is ``line``.
    Samples without a timestamp get ``default_ts``; timestamps are milliseconds since
    the epoch. ``NaN``, ``+Inf`` and ``-Inf`` are accepted. More than ``max_samples``
    samples raise :class:`~opscope.errors.PayloadTooLarge`.
    """
    result: BatchResult[MetricSample] = BatchResult()
    scanner = _Scanner(default_ts, extra_labels)
    for key, value in scanner.extra.items():
        if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", key) or len(value) > MAX_LABEL_VALUE:
            result.add_problem(None, f"extra_labels.{key[:40]}", "invalid label name or value")
            return result
    items = result.items
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            if line[0] == "#":
                if not line.startswith("# HELP "):  # help text changes nothing we keep
                    scanner.comment(line)
                continue
            items.append(scanner.sample(line))
        except ExpositionError as exc:
            result.add_problem(number, "line", str(exc))
            continue
        if len(items) > max_samples:
            raise PayloadTooLarge(f"more than {max_samples} samples", limit=max_samples)
    return result
