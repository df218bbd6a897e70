"""Decoding request bodies: JSON, newline-delimited JSON and plain text.

Errors are translated here into opscope's own: malformed content is
:class:`ValidationFailed` (naming the position), bytes that are not in the expected
encoding are :class:`UnsupportedMediaType` (naming the byte offset).
"""

from __future__ import annotations

import codecs
from typing import Any

import orjson

from opscope.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed

_BOM = codecs.BOM_UTF8
MAX_NDJSON_PROBLEMS = 100


def _check_size(body: bytes, max_bytes: int | None) -> None:
    if max_bytes is not None and len(body) > max_bytes:
        raise PayloadTooLarge(
            f"body has {len(body)} bytes; the limit is {max_bytes}",
            size=len(body), limit=max_bytes,
        )


def _utf8_error(body: bytes, base: int = 0) -> UnsupportedMediaType | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = base + exc.start
        return UnsupportedMediaType(
            f"body is not valid UTF-8: byte 0x{body[exc.start]:02x} at offset {offset}",
            offset=offset,
        )
    return None


def _problem(message: str, index: int | None = None, field: str = "$") -> dict[str, Any]:
    return {"index": index, "field": field, "message": message}


def decode_json(body: bytes, *, max_bytes: int | None = None) -> Any:
    """Parse one JSON document. A leading UTF-8 byte order mark is ignored."""
    _check_size(body, max_bytes)
    if body.startswith(_BOM):
        body = body[len(_BOM):]
    if not body.strip():
        raise ValidationFailed("body is empty; expected JSON", [_problem("body is empty")])
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson reports bad UTF-8 as a syntax error; tell the two apart so the caller can
        # answer 415 for an encoding problem and 400/422 for a syntax one.
        encoding_error = _utf8_error(body)
        if encoding_error is not None:
            raise encoding_error from None
        message = (f"malformed JSON at line {exc.lineno}, column {exc.colno} "
                   f"(char {exc.pos}): {exc.msg}")
        raise ValidationFailed(message, [_problem(message)]) from None


def decode_ndjson(body: bytes, *, max_bytes: int | None = None) -> list[Any]:
    """Parse newline-delimited JSON: one value per non-empty line (CRLF accepted).

    Every bad line is reported (up to a hundred) as a problem whose ``index`` is the
    1-based line number and whose ``field`` is ``line``.
    """
    _check_size(body, max_bytes)
    if body.startswith(_BOM):
        body = body[len(_BOM):]
    values: list[Any] = []
    problems: list[dict[str, Any]] = []
    offset = 0
    for number, line in enumerate(body.split(b"\n"), start=1):
        start = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        try:
            values.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            encoding_error = _utf8_error(line, base=start)
            if encoding_error is not None:
                raise encoding_error from None
            if len(problems) < MAX_NDJSON_PROBLEMS:
                problems.append(_problem(
                    f"malformed JSON at column {exc.colno}: {exc.msg}", number, "line"))
    if problems:
        first = problems[0]
        raise ValidationFailed(
            f"{len(problems)} malformed line(s); first at line {first['index']}: "
            f"{first['message']}",
            problems,
        )
    return values


def decode_text(body: bytes, charset: str | None, *, max_bytes: int | None = None) -> str:
    """Decode a text body in ``charset`` (UTF-8 when not given).

    An unknown charset, or bytes that are not valid in it, give
    :class:`UnsupportedMediaType` naming the charset or the byte offset.
    """
    _check_size(body, max_bytes)
    name = (charset or "utf-8").strip().strip("\"'").lower() or "utf-8"
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise UnsupportedMediaType(f"unknown charset {name[:40]!r}", charset=name[:40]) from None
    skip = 0
    if info.name == "utf-8" and body.startswith(_BOM):
        skip = len(_BOM)  # a byte order mark is not content
    try:
        return body[skip:].decode(info.name) if skip else body.decode(name)
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        raise UnsupportedMediaType(
            f"body is not valid {info.name}: byte 0x{body[offset]:02x} at offset {offset}",
            offset=offset,
        ) from None
    except LookupError:
        # codecs such as base64 exist but do not turn bytes into text
        raise UnsupportedMediaType(f"{name[:40]!r} is not a text charset") from None
