"""The topology: entities upserted by id, relations by ``(source, target, kind)``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from opscope.model import Entity, Relation
from opscope.store.ports import WriteResult
from opscope.store.postgres.codec import clean, labels_json, naive
from opscope.store.postgres.database import Database, count, unnest
from opscope.store.postgres.records import existing_ids
from opscope.store.sql.topology import topology as topology

_ENTITIES = (("id", "text"), ("kind", "text"), ("name", "text"), ("labels", "text"),
             ("updated_at", "timestamp"))
_RELATIONS = (("source", "text"), ("target", "text"), ("kind", "text"),
              ("updated_at", "timestamp"))


def upsert_topology(
    db: Database, entities: Sequence[Entity], relations: Sequence[Relation], now: datetime
) -> WriteResult:
    """Counts are per distinct entity and relation; the last of duplicates in a batch wins."""
    ents = list({e.id: e for e in entities}.values())
    rels = list(dict.fromkeys((r.source, r.target, r.kind.value) for r in relations))
    if not ents and not rels:
        return WriteResult()
    inserted = updated = 0
    with db.write() as con:
        if ents:
            found = existing_ids(con, "entities", [e.id for e in ents])
            con.execute(
                "INSERT INTO entities SELECT id, kind, name, labels::jsonb, updated_at "
                f"FROM {unnest(*_ENTITIES)} ON CONFLICT (id) DO UPDATE SET "
                "kind = excluded.kind, name = excluded.name, labels = excluded.labels, "
                "updated_at = excluded.updated_at",
                [[e.id for e in ents], [clean(e.kind) for e in ents], [clean(e.name) for e in ents],
                 labels_json(e.labels for e in ents), naive([now] * len(ents))],
            )
            inserted += len(ents) - len(found)
            updated += len(found)
        if rels:
            keys = [[r[0] for r in rels], [r[1] for r in rels], [r[2] for r in rels]]
            found_rels = count(
                con, "SELECT count(*) FROM relations WHERE (source, target, kind) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))", keys,
            )
            con.execute(
                f"INSERT INTO relations SELECT * FROM {unnest(*_RELATIONS)} "
                "ON CONFLICT (source, target, kind) DO UPDATE SET updated_at = excluded.updated_at",
                [*keys, naive([now] * len(rels))],
            )
            inserted += len(rels) - found_rels
            updated += found_rels
    return WriteResult(inserted=inserted, updated=updated)
