"""Topology reads both backends share: the graph as rows for the API, and as models for
root-cause ranking. The statements are plain SQL both dialects accept."""

from __future__ import annotations

from opscope.model import Entity, Relation
from opscope.store.ports import Row
from opscope.store.sql.codec import as_labels, iso
from opscope.store.sql.database import Con, SQLDatabase


def topology(db: SQLDatabase[Con]) -> tuple[list[Row], list[Row]]:
    with db.read() as cur:
        ents = cur.execute(
            "SELECT id, kind, name, labels, updated_at FROM entities ORDER BY id"
        ).fetchall()
        rels = cur.execute(
            "SELECT source, target, kind, updated_at FROM relations "
            "ORDER BY source, target, kind"
        ).fetchall()
    return (
        [{"id": r[0], "kind": r[1], "name": r[2], "labels": as_labels(r[3]),
          "updated_at": iso(r[4])} for r in ents],
        [{"source": r[0], "target": r[1], "kind": r[2], "updated_at": iso(r[3])}
         for r in rels],
    )


def topology_models(db: SQLDatabase[Con]) -> tuple[list[Entity], list[Relation]]:
    with db.read() as cur:
        ents = cur.execute("SELECT id, kind, name, labels FROM entities ORDER BY id").fetchall()
        rels = cur.execute(
            "SELECT source, target, kind FROM relations ORDER BY source, target, kind"
        ).fetchall()
    entities = [Entity(id=r[0], kind=r[1], name=r[2], labels=as_labels(r[3])) for r in ents]
    relations = [Relation.model_validate({"source": r[0], "target": r[1], "kind": r[2]})
                 for r in rels]
    return entities, relations
