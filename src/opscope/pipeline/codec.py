"""Wire encoding of bus batches: one JSON document per batch, tagged with its item type.

A batch travels as ``{"type": "<tag>", "items": [...]}``. Every item of a batch has the
one type the tag names (each topic carries one kind), so the tag is written once per
batch and decoding validates the whole document in one pass of pydantic's JSON parser
against the model the tag names. :data:`ITEM_TYPES` is the registry of tags; an item of
a type not in it cannot be encoded, and a tag not in it cannot be decoded.

Why pydantic-core and not orjson: ``MetricSample`` marks a missing value with NaN
(Prometheus staleness) and keeps infinities, and orjson writes every non-finite float as
``null``, which would not decode back. pydantic-core writes them as the ``NaN`` /
``Infinity`` constants that pydantic and Python's ``json`` module read. Fields typed
``Any`` (``Anomaly.evidence``, ``TimelineEntry.data``) hold JSON values after the trip:
a tuple arrives as a list, a datetime as its ISO 8601 string.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import reduce
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from opscope.errors import ValidationFailed
from opscope.model.anomaly import Anomaly
from opscope.model.events import Event
from opscope.model.incident import IncidentChange
from opscope.model.logs import LogRecord
from opscope.model.metrics import MetricSample
from opscope.model.records import Change, Ticket
from opscope.model.topology import Entity, Relation

TopologyUpdate = tuple[list[Entity], list[Relation]]
"""What the ``topology`` topic carries: one (entities, relations) pair per item."""

ITEM_TYPES: dict[str, Any] = {
    "event": Event,
    "log_record": LogRecord,
    "metric_sample": MetricSample,
    "anomaly": Anomaly,
    "incident_change": IncidentChange,
    "ticket": Ticket,
    "change": Change,
    "entity": Entity,
    "relation": Relation,
    "topology": TopologyUpdate,
}
"""Tag -> the type of every item of a batch with that tag."""

_TAG_OF_MODEL: dict[type[BaseModel], str] = {
    cls: tag for tag, cls in ITEM_TYPES.items() if isinstance(cls, type)
}


class CodecError(ValidationFailed):
    """A batch cannot be encoded, or bytes are not a batch this codec can read."""


def _envelope(tag: str, item_type: Any) -> type[BaseModel]:
    # Built from the registry so that a new tag needs one line, not one class.
    tag_type: Any = Literal[tag]
    items_type: Any = list[item_type]
    return create_model(f"Batch_{tag}", __config__=ConfigDict(extra="forbid", frozen=True),
                        type=(tag_type, ...), items=(items_type, ...))


def _list_of(item_type: Any) -> TypeAdapter[list[Any]]:
    list_type: Any = list[item_type]
    return TypeAdapter(list_type)


_ITEMS = {tag: _list_of(item_type) for tag, item_type in ITEM_TYPES.items()}
_ANY_ENVELOPE: Any = reduce(operator.or_, (_envelope(t, i) for t, i in ITEM_TYPES.items()))
_BATCH: TypeAdapter[Any] = TypeAdapter(Annotated[_ANY_ENVELOPE, Field(discriminator="type")])


def tag_of(item: Any) -> str:
    """The registry tag of one item; CodecError for a type the bus does not carry."""
    tag = _TAG_OF_MODEL.get(type(item))
    if tag is not None:
        return tag
    if (isinstance(item, tuple) and len(item) == 2
            and all(isinstance(part, list | tuple) for part in item)
            and all(type(e) is Entity for e in item[0])
            and all(type(r) is Relation for r in item[1])):
        return "topology"
    raise CodecError(f"no wire encoding for {type(item).__name__} items; "
                     f"known tags: {', '.join(ITEM_TYPES)}")


def encode_batch(items: Sequence[Any]) -> bytes:
    """One JSON document holding ``items``, which must all be of one registered type."""
    if not items:
        raise CodecError("an empty batch is not sent")
    tag = tag_of(items[0])
    for index, item in enumerate(items):
        other = tag_of(item)
        if other != tag:
            raise CodecError(f"a batch holds one item type: item 0 is {tag}, "
                             f"item {index} is {other}")
    # Models are dumped to Python values first: a model's own JSON serialiser writes
    # NaN as null whatever it is asked, plain values honour inf_nan_mode.
    if tag == "topology":  # entities and relations may come as any sequence
        items = [(list(entities), list(relations)) for entities, relations in items]
    body = {"type": tag, "items": _ITEMS[tag].dump_python(list(items))}
    return pydantic_core.to_json(body, inf_nan_mode="constants")


def decode_batch(data: bytes) -> list[Any]:
    """The items of a document written by :func:`encode_batch`, as the same objects."""
    try:
        batch = _BATCH.validate_json(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        for error in errors:
            if error["type"] == "union_tag_invalid":
                tag = error.get("ctx", {}).get("tag", "?")
                raise CodecError(f"unknown item tag {tag!r} in batch; known tags: "
                                 f"{', '.join(ITEM_TYPES)}") from None
        if any(e["type"] == "union_tag_not_found" for e in errors):
            raise CodecError("batch has no item tag ('type')") from None
        raise CodecError(f"batch does not decode: {exc.error_count()} problem(s), "
                         f"first: {errors[0]['loc']}: {errors[0]['msg']}") from None
    items: list[Any] = batch.items
    return items
