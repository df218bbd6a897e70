"""How values cross the PostgreSQL boundary, beyond what the embedded store's codec does.

Timestamps are handled exactly as in the embedded store (``TIMESTAMP`` holding UTC,
naive parameters), so its codec functions are used as they are. Here: label maps and
JSON documents go in as JSON text cast to ``JSONB`` by the statement, and text is made
acceptable to PostgreSQL, which refuses the NUL character in text and JSONB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson

from opscope.store.duckdb.codec import to_naive_utc

_NUL = "\x00"
_JSON_NUL = "\\u0000"


def clean(text: str) -> str:
    """``text`` without NUL characters (replaced by U+FFFD), which PostgreSQL cannot store."""
    return text.replace(_NUL, "\ufffd") if _NUL in text else text


def dump_json(value: Any) -> str:
    """JSON text for a ``JSONB`` column: non-string keys as strings, NaN as null, and an
    escaped NUL (refused by ``JSONB``) as U+FFFD."""
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return text.replace(_JSON_NUL, "\\ufffd") if _JSON_NUL in text else text


def labels_json(values: Iterable[Mapping[str, str]]) -> list[str]:
    return [dump_json(v) if v else "{}" for v in values]


def naive(values: Iterable[datetime | None]) -> list[datetime | None]:
    """Timestamps as naive UTC parameters for a ``TIMESTAMP[]`` array."""
    return [None if v is None else to_naive_utc(v) for v in values]
