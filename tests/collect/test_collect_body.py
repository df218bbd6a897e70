import pytest

from opscope.collect.body import decode_json, decode_ndjson, decode_text
from opscope.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed


def test_decode_json_reads_objects_and_skips_a_bom() -> None:
    assert decode_json(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    assert decode_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_malformed_json_names_line_column_and_char() -> None:
    with pytest.raises(ValidationFailed) as info:
        decode_json(b'{"a": 1,\n "b": x}')
    assert "line 2, column 7 (char 15)" in info.value.message
    assert info.value.problems[0]["field"] == "$"


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_empty_json_body_is_a_validation_failure(body: bytes) -> None:
    with pytest.raises(ValidationFailed, match="empty"):
        decode_json(body)


def test_invalid_utf8_in_json_is_unsupported_media_type() -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        decode_json(b'{"a": "caf\xe9"}')
    assert info.value.details["offset"] == 10
    assert "offset 10" in info.value.message


def test_size_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_json(b"[1, 2, 3]", max_bytes=4)


def test_ndjson_skips_blank_lines_and_accepts_crlf() -> None:
    body = b'{"a": 1}\r\n\n  \n[2]\n"x"'
    assert decode_ndjson(body) == [{"a": 1}, [2], "x"]
    assert decode_ndjson(b"") == []


def test_ndjson_errors_name_every_bad_line() -> None:
    with pytest.raises(ValidationFailed) as info:
        decode_ndjson(b'{"a": 1}\n{bad\n\n{"c": 3}\n[1,\n')
    assert [p["index"] for p in info.value.problems] == [2, 5]
    assert all(p["field"] == "line" for p in info.value.problems)
    assert "line 2" in info.value.message


def test_ndjson_bad_utf8_gives_the_offset_in_the_body() -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        decode_ndjson(b'{"a": 1}\n{"b": "\xff"}\n')
    assert info.value.details["offset"] == 16


@pytest.mark.parametrize(
    ("body", "charset", "text"),
    [
        (b"caf\xc3\xa9", None, "café"),
        (b"\xef\xbb\xbfhello", "utf-8", "hello"),
        (b"caf\xe9", "ISO-8859-1", "café"),
        (b"caf\xe9", '"latin1"', "café"),
        ("журнал".encode("koi8-r"), "koi8-r", "журнал"),
    ],
)
def test_decode_text(body: bytes, charset: str | None, text: str) -> None:
    assert decode_text(body, charset) == text


def test_decode_text_bad_bytes_name_the_offset() -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        decode_text(b"\xef\xbb\xbfok \xff", None)
    assert info.value.details["offset"] == 6
    assert "0xff" in info.value.message


@pytest.mark.parametrize("charset", ["no-such-charset", "base64"])
def test_decode_text_refuses_unknown_or_non_text_charsets(charset: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        decode_text(b"abc", charset)
