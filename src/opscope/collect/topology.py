"""The topology: which services, hosts and stores exist and how they depend on each other.

Two forms are read. The full form lists both explicitly::

    {"entities": [{"id": "checkout", "kind": "service"}, ...],
     "relations": [{"source": "checkout", "target": "payment", "kind": "calls"}, ...]}

The compact form, handy in YAML, describes each entity with its outgoing edges::

    services:
      checkout: {kind: service, calls: [payment, cart], runs_on: host-1, depends_on: [orders-db]}

In the compact form an entity that is only named as a target is created, with kind
``host`` for a ``runs_on`` target and ``service`` otherwise. In the full form a relation
to an undeclared entity is a problem, since the declared list is meant to be complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from opscope.collect.batch import BatchResult, Problem, clean_message, field_path, kind_of
from opscope.errors import NotFound, PayloadTooLarge, ValidationFailed
from opscope.model import Entity, Relation, RelationKind

MAX_ENTITIES = 100_000
MAX_FILE_BYTES = 16 * 1024 * 1024
_EDGE_KEYS = {kind.value: kind for kind in RelationKind}
_ENTITY_KEYS = ("kind", "name", "labels")


class _Builder:
    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self.relations: dict[tuple[str, str, RelationKind], Relation] = {}
        self.implicit: dict[str, str] = {}  # target id -> kind, for the compact form
        self.origins: dict[tuple[str, str, RelationKind], tuple[int | None, str]] = {}
        self.result: BatchResult[Any] = BatchResult()

    def problem(self, index: int | None, where: str, message: str) -> None:
        self.result.add_problem(index, where, message)

    def entity(self, data: Any, index: int | None, where: str) -> None:
        try:
            entity = Entity.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                self.problem(index, _join(where, field_path(error["loc"])),
                             clean_message(error["msg"]))
            return
        if entity.id in self.entities:
            self.problem(index, _join(where, "id"), f"entity {entity.id!r} is declared twice")
            return
        self.entities[entity.id] = entity

    def relation(self, data: Any, index: int | None, where: str) -> None:
        try:
            relation = Relation.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                self.problem(index, _join(where, field_path(error["loc"])),
                             clean_message(error["msg"]))
            return
        if relation.source == relation.target:
            self.problem(index, where, f"{relation.source!r} cannot {relation.kind.value} itself")
            return
        key = (relation.source, relation.target, relation.kind)
        if key not in self.relations:
            self.relations[key] = relation
            self.origins[key] = (index, where or "relations")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and name != "$" else (prefix or name)


def parse_topology(doc: Any) -> tuple[list[Entity], list[Relation], list[Problem]]:
    """Entities, relations and the problems found, from either form (or both merged).

    Duplicate entity ids and self-relations are problems (the first declaration is kept);
    repeated relations are merged silently. In the full form, ``index`` is the position
    in ``entities`` or ``relations``; in the compact form it is ``None`` and ``field``
    names the entity (``services.checkout.calls``).
    """
    builder = _Builder()
    if not isinstance(doc, dict):
        builder.problem(None, "$", f"expected an object, got {kind_of(doc)}")
        return [], [], builder.result.problems
    unknown = sorted(str(k) for k in doc if k not in ("entities", "relations", "services"))
    if unknown:
        builder.problem(None, "$", "unknown top-level key(s): " + ", ".join(unknown[:10]))
    entities = doc.get("entities")
    if isinstance(entities, dict):
        _compact(builder, "entities", entities)
    elif entities is not None:
        _listed(builder, "entities", entities, builder.entity)
    if doc.get("services") is not None:
        _compact(builder, "services", doc["services"])
    if doc.get("relations") is not None:
        _listed(builder, "relations", doc["relations"], builder.relation)
    for target, kind in builder.implicit.items():
        builder.entities.setdefault(target, Entity(id=target, kind=kind))
    _check_ends(builder)
    return (list(builder.entities.values()), list(builder.relations.values()),
            builder.result.problems)


def _listed(builder: _Builder, key: str, items: Any, add: Any) -> None:
    if not isinstance(items, list):
        builder.problem(None, key, f"{key} must be an array, got {kind_of(items)}")
        return
    if len(items) > MAX_ENTITIES:
        raise PayloadTooLarge(f"more than {MAX_ENTITIES} {key}", limit=MAX_ENTITIES)
    for index, item in enumerate(items):
        add(item, index, "")


def _compact(builder: _Builder, key: str, mapping: Any) -> None:
    if not isinstance(mapping, dict):
        builder.problem(None, key, f"{key} must be a mapping of id to description")
        return
    if len(mapping) > MAX_ENTITIES:
        raise PayloadTooLarge(f"more than {MAX_ENTITIES} {key}", limit=MAX_ENTITIES)
    for raw_id, spec in mapping.items():
        entity_id = str(raw_id)
        where = f"{key}.{entity_id[:100]}"
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            builder.problem(None, where, "must be a mapping (kind, calls, runs_on, ...)")
            continue
        extra = sorted(str(k) for k in spec if k not in _ENTITY_KEYS and k not in _EDGE_KEYS)
        if extra:
            builder.problem(None, where, "unknown key(s): " + ", ".join(extra[:10]))
        builder.entity({"id": entity_id, **{k: spec[k] for k in _ENTITY_KEYS if k in spec}},
                       None, where)
        for edge_key, kind in _EDGE_KEYS.items():
            targets = spec.get(edge_key)
            if targets is None:
                continue
            if isinstance(targets, str):
                targets = [targets]
            if not isinstance(targets, list):
                builder.problem(None, f"{where}.{edge_key}", "must be a name or a list of names")
                continue
            for target in targets:
                if not isinstance(target, str | int) or isinstance(target, bool):
                    builder.problem(None, f"{where}.{edge_key}", "targets must be names")
                    continue
                builder.relation({"source": entity_id, "target": str(target), "kind": kind},
                                 None, f"{where}.{edge_key}")
                default_kind = "host" if kind is RelationKind.RUNS_ON else "service"
                builder.implicit.setdefault(str(target), default_kind)


def _check_ends(builder: _Builder) -> None:
    for key in list(builder.relations):
        missing = [end for end in key[:2] if end not in builder.entities]
        if missing:
            index, where = builder.origins[key]
            builder.problem(index, where, f"{key[2].value} relation names unknown entity "
                                          f"{missing[0]!r}")
            del builder.relations[key]


def load_topology_yaml(path: Path) -> tuple[list[Entity], list[Relation]]:
    """Read a topology YAML (or JSON) file; any problem raises :class:`ValidationFailed`."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"{path} has {size} bytes; the limit is {MAX_FILE_BYTES}")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"topology file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{path} is not UTF-8 (byte offset {exc.start})", [
            {"index": None, "field": "$", "message": f"not UTF-8 at byte {exc.start}"}]) from None
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        message = f"malformed YAML{where}: {getattr(exc, 'problem', None) or exc}"
        raise ValidationFailed(message, [{"index": None, "field": "$", "message": message}]
                               ) from None
    entities, relations, problems = parse_topology(doc)
    if problems:
        first = problems[0]
        raise ValidationFailed(
            f"{path}: {len(problems)} problem(s); first: {first.field}: {first.message}",
            [p.as_dict() for p in problems],
        )
    return entities, relations
