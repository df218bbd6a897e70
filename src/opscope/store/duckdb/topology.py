"""The topology: entities upserted by id, relations by ``(source, target, kind)``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa

from opscope.model import Entity, Relation
from opscope.store.duckdb.codec import TS, label_array
from opscope.store.duckdb.database import Database, count
from opscope.store.duckdb.records import existing_ids
from opscope.store.ports import WriteResult
from opscope.store.sql.topology import topology as topology


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
            table = pa.table({
                "id": pa.array([e.id for e in ents], type=pa.string()),
                "kind": pa.array([e.kind for e in ents], type=pa.string()),
                "name": pa.array([e.name for e in ents], type=pa.string()),
                "labels": label_array(e.labels for e in ents),
                "updated_at": pa.array([now] * len(ents), type=TS),
            })
            db.insert_arrow(
                con,
                "INSERT INTO entities SELECT id, kind, name, labels, updated_at FROM batch "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, "
                "labels = excluded.labels, updated_at = excluded.updated_at",
                table,
            )
            inserted += len(ents) - len(found)
            updated += len(found)
        if rels:
            table = pa.table({
                "source": pa.array([r[0] for r in rels], type=pa.string()),
                "target": pa.array([r[1] for r in rels], type=pa.string()),
                "kind": pa.array([r[2] for r in rels], type=pa.string()),
                "updated_at": pa.array([now] * len(rels), type=TS),
            })
            con.register("wanted", table)
            try:
                found_rels = count(
                    con, "SELECT count(*) FROM relations JOIN wanted USING (source, target, kind)"
                )
            finally:
                con.unregister("wanted")
            db.insert_arrow(
                con,
                "INSERT INTO relations SELECT source, target, kind, updated_at FROM batch "
                "ON CONFLICT (source, target, kind) DO UPDATE SET updated_at = excluded.updated_at",
                table,
            )
            inserted += len(rels) - found_rels
            updated += found_rels
    return WriteResult(inserted=inserted, updated=updated)
