"""Wire encoding of bus batches: every item type round-trips; bad input is refused clearly."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from opscope.model import Entity, MetricSample
from opscope.pipeline.codec import ITEM_TYPES, CodecError, decode_batch, encode_batch
from pipeline.bus_items import BATCHES, T0


@pytest.mark.parametrize("topic", sorted(BATCHES))
def test_a_batch_decodes_to_equal_items(topic: str) -> None:
    items = BATCHES[topic]
    assert decode_batch(encode_batch(items)) == items


def test_every_registered_type_has_a_round_trip_case() -> None:
    tags = {json.loads(encode_batch(items))["type"] for items in BATCHES.values()}
    assert tags == set(ITEM_TYPES)


def test_non_finite_metric_values_survive() -> None:
    # NaN marks a stale series; a codec that wrote it as null would fail to decode.
    items = [MetricSample(name="m", value=v, ts=T0) for v in (math.nan, math.inf, -math.inf)]
    back = decode_batch(encode_batch(items))
    assert math.isnan(back[0].value)
    assert back[1].value == math.inf and back[2].value == -math.inf
    assert [b.ts for b in back] == [T0] * 3


def test_topology_given_as_tuples_arrives_as_lists() -> None:
    entities, relations = BATCHES["topology"][0]
    back = decode_batch(encode_batch([(tuple(entities), tuple(relations))]))
    assert back == [(entities, relations)]


@pytest.mark.parametrize(("data", "message"), [
    (b'{"type": "sheep", "items": []}', "unknown item tag 'sheep'"),
    (b'{"items": []}', "no item tag"),
    (b'{"type": "metric_sample", "items": [{"name": "m"}]}', "value"),
    (b'{"type": "metric_sample", "items": [], "extra": 1}', "extra"),
    (b"not json", "Invalid JSON"),
])
def test_unreadable_batches_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_batch(data)


@pytest.mark.parametrize(("items", "message"), [
    ([], "empty batch"),
    ([object()], "no wire encoding for object"),
    (["a string"], "no wire encoding for str"),
    ([MetricSample(name="m", value=1.0), Entity(id="x")], "item 1 is entity"),
    ([([Entity(id="x")], [Entity(id="y")])], "no wire encoding for tuple"),
])
def test_batches_without_an_encoding_are_refused(items: list[Any], message: str) -> None:
    with pytest.raises(CodecError, match=message):
        encode_batch(items)
