"""Prometheus remote write 1.0: snappy-compressed protobuf ``WriteRequest`` bodies.

Prometheus (``remote_write:`` in prometheus.yml) and the agents that speak the protocol
(Grafana Alloy, vmagent, the OpenTelemetry Collector's ``prometheusremotewrite``
exporter) post batches of series. The messages read here, from Prometheus'
``prompb/types.proto`` and ``remote.proto``::

    message WriteRequest { repeated TimeSeries timeseries = 1;
                           repeated MetricMetadata metadata = 3; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
                           repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }   // ms since the epoch

The body arrives snappy-compressed (``Content-Encoding: snappy``); the API layer
decompresses it like a gzip body, with the same size cap. Each sample becomes a
:class:`~opscope.model.MetricSample` named by the series' ``__name__`` label.
Metadata and exemplars carry nothing opscope keeps and are skipped; native histograms
are counted as skipped. Prometheus' staleness marker (a NaN with a
special payload) arrives as NaN, which the store reads as "no value". A series that
breaks a rule (no name, a bad name or label, too many labels) is rejected with all its
samples and named by its index; with ``partial`` the other series are kept.

The protobuf wire format is decoded here directly: the four messages above use only
varints, 64-bit floats and length-delimited fields, which is less code than a generated
module and the dependency it would bring.
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime, timedelta

from opscope.collect.batch import BatchResult
from opscope.errors import PayloadTooLarge, ValidationFailed
from opscope.model import MetricSample

MAX_LABELS = 64
MAX_LABEL_NAME = 128
MAX_LABEL_VALUE = 4096
MAX_NAME = 256
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:.\-/]*\Z")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DOUBLE = struct.Struct("<d")


class WireError(ValueError):
    """The protobuf bytes are malformed; the message says where."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The base-128 varint at ``buf[pos]`` (protobuf's, and snappy's length header) and
    the position after it; WireError when it is truncated or longer than 10 bytes."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError(f"truncated varint at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError(f"varint longer than 10 bytes at byte {pos}")


def _fields(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """``(field number, wire type, a, b)`` for each field of the message in
    ``buf[start:end]``: a varint's value in ``a``; a 64-bit or length-delimited field's
    bytes as the span ``buf[a:b]``."""
    out: list[tuple[int, int, int, int]] = []
    pos = start
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {pos}")
        if wire == 0:
            value, pos = read_varint(buf, pos)
            out.append((number, 0, value, 0))
        elif wire == 1:
            out.append((number, 1, pos, pos + 8))
            pos += 8
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            out.append((number, 2, pos, pos + length))
            pos += length
        elif wire == 5:
            out.append((number, 5, pos, pos + 4))
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wire} at byte {pos}")
        if pos > end:
            raise WireError(f"field {number} runs past the end of its message")
    return out


def _text(buf: bytes, a: int, b: int) -> str:
    try:
        return buf[a:b].decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("a label is not valid UTF-8") from None


def _series(buf: bytes, start: int, end: int) -> tuple[dict[str, str], list[tuple[float, int]],
                                                        int]:
    labels: dict[str, str] = {}
    samples: list[tuple[float, int]] = []
    histograms = 0
    for number, wire, a, b in _fields(buf, start, end):
        if number == 1 and wire == 2:
            name = value = ""
            for n, w, x, y in _fields(buf, a, b):
                if n == 1 and w == 2:
                    name = _text(buf, x, y)
                elif n == 2 and w == 2:
                    value = _text(buf, x, y)
            labels[name] = value
        elif number == 2 and wire == 2:
            sample_value, ms = 0.0, 0
            for n, w, x, _ in _fields(buf, a, b):
                if n == 1 and w == 1:
                    sample_value = _DOUBLE.unpack_from(buf, x)[0]
                elif n == 2 and w == 0:
                    ms = x - (1 << 64) if x >= 1 << 63 else x
            samples.append((sample_value, ms))
        elif number == 4 and wire == 2:
            histograms += 1
    return labels, samples, histograms


def _check(labels: dict[str, str]) -> str:
    """The series' metric name; raises WireError naming the broken rule."""
    name = labels.pop("__name__", "")
    if not name:
        raise WireError("series has no __name__ label")
    if len(name) > MAX_NAME or not _NAME.match(name):
        raise WireError(f"invalid metric name {name[:40]!r}")
    if len(labels) > MAX_LABELS:
        raise WireError(f"more than {MAX_LABELS} labels")
    for key, value in labels.items():
        if len(key) > MAX_LABEL_NAME or not _LABEL.match(key):
            raise WireError(f"invalid label name {key[:40]!r}")
        if len(value) > MAX_LABEL_VALUE:
            raise WireError(f"label {key} is longer than {MAX_LABEL_VALUE} characters")
    return name


def parse_write_request(data: bytes, max_samples: int = 1_000_000
                        ) -> tuple[BatchResult[MetricSample], int]:
    """Decode a (decompressed) ``WriteRequest``; return its samples and how many native
    histogram samples were skipped. A problem's ``index`` is the series' position and its
    ``field`` is ``timeseries``. More than ``max_samples`` samples raise
    :class:`~opscope.errors.PayloadTooLarge`; malformed bytes raise ValidationFailed."""
    result: BatchResult[MetricSample] = BatchResult()
    skipped = 0
    try:
        top = _fields(data, 0, len(data))
    except WireError as exc:
        raise ValidationFailed(f"not a remote write request: {exc}") from None
    index = -1
    last_ms: int | None = None
    last_ts = _EPOCH
    for number, wire, a, b in top:
        if number != 1 or wire != 2:
            continue  # metadata and anything newer
        index += 1
        try:
            labels, samples, histograms = _series(data, a, b)
            name = _check(labels)
        except WireError as exc:
            result.add_problem(index, "timeseries", str(exc))
            continue
        kept: list[MetricSample] = []
        for value, ms in samples:
            if ms != last_ms:  # a batch's series mostly share their timestamps
                try:
                    last_ts = _EPOCH + timedelta(milliseconds=ms)
                except OverflowError:
                    break
                last_ms = ms
            kept.append(MetricSample(name=name, labels=labels, value=value, ts=last_ts))
        else:
            result.items.extend(kept)
            skipped += histograms
            if len(result.items) > max_samples:
                raise PayloadTooLarge(f"more than {max_samples} samples", limit=max_samples)
            continue
        result.add_problem(index, "timeseries", f"timestamp {ms} is out of range")
    return result, skipped

