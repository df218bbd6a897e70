"""Reading request bodies safely: size caps (also after decompression), content types."""

from __future__ import annotations

import zlib

import cramjam
from fastapi import Request

from opscope.collect.remote_write import WireError, read_varint
from opscope.errors import PayloadTooLarge, UnsupportedMediaType


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``max_bytes``."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise UnsupportedMediaType("Content-Length is not a number") from None
        if declared > max_bytes:
            raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return _gunzip(body, max_bytes)
    if encoding == "snappy":
        return _unsnappy(body, max_bytes)
    raise UnsupportedMediaType(
        f"Content-Encoding {encoding!r} is not supported; use gzip (or snappy)")


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise UnsupportedMediaType(f"body is not valid gzip: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"decompressed body exceeds the limit of {max_bytes} bytes")
    return out


def _unsnappy(body: bytes, max_bytes: int) -> bytes:
    # A snappy block starts with its decompressed length as a varint: check it first,
    # so a small body cannot make us allocate a huge buffer.
    try:
        size, _ = read_varint(body, 0)
    except WireError:
        raise UnsupportedMediaType("body is not valid snappy data") from None
    if size > max_bytes:
        raise PayloadTooLarge(f"body decompresses to {size} bytes; the limit is {max_bytes}")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam's DecompressionError has no stable import path
        raise UnsupportedMediaType(f"body is not valid snappy data: {exc}") from None


def media_type(request: Request) -> tuple[str, str | None]:
    """(type, charset) of the request, lower-cased; type '' when absent."""
    raw = request.headers.get("content-type", "")
    parts = [p.strip() for p in raw.split(";")]
    charset = None
    for part in parts[1:]:
        if part.lower().startswith("charset="):
            charset = part.split("=", 1)[1].strip().strip('"').lower()
    return parts[0].lower(), charset
