from __future__ import annotations

import base64

import pytest

from opscope.errors import ValidationFailed
from opscope.store.cursor import SortKey, decode_cursor, encode_cursor


@pytest.mark.parametrize("key", [SortKey(1_700_000_000_123_456, 42), SortKey(0, "abc/def=")])
def test_round_trip(key: SortKey) -> None:
    token = encode_cursor("logs", key)
    assert "=" not in token and "+" not in token and "/" not in token
    assert decode_cursor("logs", token, type(key.tiebreak)) == key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!not base64!!!",
        _b64(b"not json"),
        _b64(b"[1, 2]"),
        _b64(b'{"v": 99, "k": "logs", "t": 1, "i": 1}'),
        _b64(b'{"v": 1, "k": "events", "t": 1, "i": 1}'),
        _b64(b'{"v": 1, "k": "logs", "t": "x", "i": 1}'),
        _b64(b'{"v": 1, "k": "logs", "t": true, "i": 1}'),
        _b64(b'{"v": 1, "k": "logs", "t": 1, "i": "1"}'),
        "A" * 5000,
    ],
)
def test_invalid_cursor_names_the_field(token: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        decode_cursor("logs", token, int)
    assert err.value.problems[0]["field"] == "cursor"
