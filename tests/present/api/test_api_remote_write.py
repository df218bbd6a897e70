"""Prometheus remote write: a body captured from Prometheus 2.42, and malformed ones."""

from __future__ import annotations

import math
import struct

import cramjam
import pytest
from fastapi.testclient import TestClient

from conftest import FIXTURES
from opscope.collect.remote_write import parse_write_request

CAPTURED = FIXTURES / "prometheus/remote-write-prometheus-2.42.bin"
PATH = "/api/v1/metrics/remote-write"
PROTOBUF = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0"}


# A minimal protobuf writer, only to build malformed and edge-case requests; the
# well-formed path is checked against the captured body above.
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _series(labels: dict[str, str], samples: list[tuple[float, int]]) -> bytes:
    body = b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode()))
                    for k, v in labels.items())
    for value, ms in samples:
        sample = _varint(1 << 3 | 1) + struct.pack("<d", value) + _varint(2 << 3) + _varint(
            ms % (1 << 64))
        body += _field(2, sample)
    return _field(1, body)


def _snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def test_captured_request_decodes_to_prometheus_own_series() -> None:
    data = bytes(cramjam.snappy.decompress_raw(CAPTURED.read_bytes()))
    result, skipped = parse_write_request(data)
    assert result.problems == [] and skipped == 0
    assert len(result.items) == 200
    first = result.items[0]
    assert first.name == "go_gc_duration_seconds"
    assert first.labels == {"instance": "127.0.0.1:19090", "job": "prometheus", "quantile": "0"}
    assert first.ts.year == 2026 and first.ts.tzinfo is not None
    assert {s.labels["job"] for s in result.items} == {"prometheus"}
    # Prometheus marks series that have gone away with a NaN: kept as "no value".
    assert any(math.isnan(s.value) for s in result.items)


def test_remote_write_is_stored_and_queryable(client: TestClient, writer: dict[str, str],
                                              reader: dict[str, str]) -> None:
    resp = client.post(PATH, content=CAPTURED.read_bytes(), headers={**writer, **PROTOBUF})
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 200
    series = client.get("/api/v1/metrics/series", params={
        "name": "go_gc_duration_seconds", "match": 'quantile="0.5"'}, headers=reader).json()
    assert [s["labels"]["job"] for s in series["series"]] == ["prometheus"]


def test_negative_timestamps_and_edge_values() -> None:
    body = _series({"__name__": "temp", "room": "a"}, [(-1.5, -1000), (math.inf, 0)])
    result, _ = parse_write_request(body)
    assert [(s.value, s.ts.year) for s in result.items] == [(-1.5, 1969), (math.inf, 1970)]


def test_bad_series_are_named_and_the_rest_kept_with_partial(
        client: TestClient, writer: dict[str, str]) -> None:
    good = _series({"__name__": "up", "job": "node"}, [(1.0, 1_700_000_000_000)])
    nameless = _series({"job": "node"}, [(1.0, 1_700_000_000_000)])
    bad_label = _series({"__name__": "up", "bad-label": "x"}, [(1.0, 1_700_000_000_000)])
    body = _snappy(good + nameless + bad_label)
    resp = client.post(PATH, content=body, headers={**writer, **PROTOBUF})
    assert resp.status_code == 422
    problems = resp.json()["problems"]
    assert [(p["index"], p["message"]) for p in problems] == [
        (1, "series has no __name__ label"), (2, "invalid label name 'bad-label'")]
    kept = client.post(PATH, content=body, params={"partial": "true"},
                       headers={**writer, **PROTOBUF})
    assert kept.status_code == 200 and kept.json()["accepted"] == 1


@pytest.mark.parametrize(("headers", "body", "status", "message"), [
    ({"Content-Type": "application/json"}, b"{}", 415, "send application/x-protobuf"),
    ({"Content-Encoding": "br"}, b"x", 415, "Content-Encoding 'br' is not supported"),
    ({}, b"\x05\x00garbage", 415, "not valid snappy data"),
    ({}, _varint(50_000_000) + b"\x00", 413, "decompresses to 50000000 bytes"),
    ({}, _snappy(b"\x0a\xff\xff\xff\xff\x0f"), 422, "not a remote write request"),
    ({}, _snappy(b"\x0b"), 422, "unsupported wire type 3"),
])
def test_malformed_bodies_get_clear_errors(client: TestClient, writer: dict[str, str],
                                           headers: dict[str, str], body: bytes, status: int,
                                           message: str) -> None:
    resp = client.post(PATH, content=body, headers={**writer, **PROTOBUF, **headers})
    assert resp.status_code == status, resp.text
    assert message in resp.text
