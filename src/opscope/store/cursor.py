"""Keyset cursors: the opaque token that says where the next page starts.

A cursor is the sort key of the last row of a page (a timestamp in microseconds plus a
unique tiebreaker), tagged with the kind of rows it pages through, serialised as JSON
and then URL-safe base64 without padding. Keyset paging (rather than offsets) keeps
pages stable while new rows are appended: a new row sorts before the cursor, so a
reader walking older pages neither skips nor repeats rows.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson

from opscope.errors import ValidationFailed

_VERSION = 1


@dataclass(frozen=True, slots=True)
class SortKey:
    """Where a page ended: ``ts_us`` (microseconds since the epoch) and a unique tiebreaker."""

    ts_us: int
    tiebreak: int | str


def encode_cursor(kind: str, key: SortKey) -> str:
    raw = orjson.dumps({"v": _VERSION, "k": kind, "t": key.ts_us, "i": key.tiebreak})
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _invalid(reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"invalid cursor: {reason}",
        [{"index": None, "field": "cursor", "message": f"invalid cursor: {reason}"}],
    )


def decode_cursor(kind: str, token: str, tiebreak: type[int] | type[str]) -> SortKey:
    """Read a cursor made by :func:`encode_cursor` for the same ``kind`` of rows.

    Raises ``ValidationFailed`` naming the ``cursor`` field when the token is not one of
    ours, was made for another kind of rows, or carries a tiebreaker of the wrong type.
    """
    if not token or len(token) > 2048:
        raise _invalid("empty or too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise _invalid("not a cursor returned by this API") from None
    if not isinstance(data, dict) or data.get("v") != _VERSION:
        raise _invalid("not a cursor returned by this API")
    if data.get("k") != kind:
        raise _invalid(f"made for {data.get('k')!r} rows, not {kind!r}")
    ts_us, tie = data.get("t"), data.get("i")
    # bool is an int subclass; a cursor holding true/false is not one of ours.
    if not isinstance(ts_us, int) or isinstance(ts_us, bool):
        raise _invalid("bad timestamp")
    if not isinstance(tie, tiebreak) or isinstance(tie, bool):
        raise _invalid("bad tiebreaker")
    return SortKey(ts_us, tie)
