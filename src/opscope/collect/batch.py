"""Batches of parsed items and the problems found on the way.

Every receiver returns a :class:`BatchResult`: the items that are valid and one
:class:`Problem` per thing that is not, so that a caller can keep the good part of a
batch and tell the sender exactly which item and field to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from opscope.errors import PayloadTooLarge

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

MAX_PROBLEMS = 1000
"""Problems listed per batch; beyond this one summary problem says how many were left out,
so that a hostile batch of a million bad items cannot make a million-line answer."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a batch.

    ``index`` is the item's position (or, for text formats, the line number; ``None`` when
    the problem concerns the whole batch); ``field`` is a dotted path inside the item such
    as ``labels.severity`` (``$`` for the item or batch as a whole).
    """

    index: int | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


@dataclass(slots=True)
class BatchResult(Generic[T]):
    items: list[T] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_items(self) -> int:
        """Items refused: one item may have several problems, so count items (a problem
        about the whole batch counts as one)."""
        return len({p.index for p in self.problems if p.index is not None}) or (
            1 if self.problems else 0)

    def add_problem(self, index: int | None, field_path: str, message: str) -> None:
        """Record a problem, folding everything past :data:`MAX_PROBLEMS` into one line."""
        count = len(self.problems)
        if count < MAX_PROBLEMS:
            self.problems.append(Problem(index, field_path, message))
        elif count == MAX_PROBLEMS:
            self.problems.append(Problem(None, "$", "more problems were found and not listed"))

    def extend(self, other: BatchResult[T]) -> None:
        self.items.extend(other.items)
        for problem in other.problems:
            self.add_problem(problem.index, problem.field, problem.message)


_ADAPTERS: dict[type[Any], TypeAdapter[list[Any]]] = {}


def _lenient_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    """Validates a whole list in one call, passing through (unchanged) items that fail.

    Trying the model first and falling back to ``Any`` keeps a batch with a few bad items
    to one pass over the good ones; only the bad ones are validated again, on their own,
    to get their error messages.
    """
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        item: Any = Annotated[model | Any, Field(union_mode="left_to_right")]
        adapter = TypeAdapter(list[item])
        _ADAPTERS[model] = adapter
    return adapter


def field_path(loc: Sequence[int | str]) -> str:
    """``("labels", "severity")`` -> ``labels.severity``; ``("params", 2)`` -> ``params[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out or "$"


def clean_message(msg: str) -> str:
    # pydantic prefixes errors raised by our own validators; the prefix says nothing useful.
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def validate_items(
    model: type[M],
    items: Any,
    *,
    max_items: int,
    defaults: Mapping[str, Any] | None = None,
) -> BatchResult[M]:
    """Validate a decoded JSON array into ``model`` instances, keeping the valid ones.

    Raises :class:`PayloadTooLarge` when there are more than ``max_items`` items. A value
    that is not a list gives one problem (index ``None``, field ``$``) and no items.
    ``defaults`` fill fields an item leaves out (an explicit ``null`` is not filled).
    """
    result: BatchResult[M] = BatchResult()
    if not isinstance(items, list):
        result.add_problem(None, "$", f"expected a JSON array of items, got {kind_of(items)}")
        return result
    if len(items) > max_items:
        raise PayloadTooLarge(
            f"batch has {len(items)} items; the limit is {max_items}",
            count=len(items), limit=max_items,
        )
    if defaults:
        items = [{**defaults, **item} if isinstance(item, dict) else item for item in items]
    validated = _lenient_adapter(model).validate_python(items)
    for index, item in enumerate(validated):
        if isinstance(item, model):
            result.items.append(item)
            continue
        try:
            result.items.append(model.model_validate(item))  # pragma: no cover - failed above
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_context=False,
                                    include_input=False):
                result.add_problem(index, field_path(error["loc"]), clean_message(error["msg"]))
    return result


def kind_of(value: Any) -> str:
    """How a JSON value is called in messages: 'an object', 'a string', 'null', ..."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


_STRICT: dict[type[Any], TypeAdapter[list[Any]]] = {}


def validate_json_items(model: type[M], body: bytes, *, max_items: int) -> BatchResult[M]:
    """Validate a JSON array straight from bytes: the fast path of the ingest endpoints.

    pydantic-core parses and validates in one pass without building Python dicts first.
    When anything is wrong (bad JSON, a bad item, not an array) it falls back to
    :func:`~opscope.collect.body.decode_json` and :func:`validate_items`, which name
    every problem and keep the valid items, so the answer is the same either way.
    """
    from opscope.collect.body import decode_json

    adapter = _STRICT.get(model)
    if adapter is None:
        adapter = _STRICT[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    try:
        items: list[M] = adapter.validate_json(body)
    except ValidationError:
        return validate_items(model, decode_json(body), max_items=max_items)
    if len(items) > max_items:
        raise PayloadTooLarge(f"batch has {len(items)} items; the limit is {max_items}",
                              count=len(items), limit=max_items)
    return BatchResult(items, [])
