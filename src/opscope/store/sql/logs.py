"""Log reads both backends share: the row shape and the filters of a ``LogQuery``."""

from __future__ import annotations

from typing import Any

import orjson

from opscope.model import parse_level
from opscope.store.ports import LogQuery, Row
from opscope.store.sql.codec import iso
from opscope.store.sql.where import Where


def log_row(r: dict[str, Any]) -> Row:
    """A log row; ``attributes`` is read as JSON text."""
    return {
        "ts": iso(r["ts"]), "received_at": iso(r["received_at"]), "source": r["source"],
        "entity": r["entity"], "level": r["level"], "message": r["message"],
        "attributes": orjson.loads(r["attributes"]), "template_id": r["template_id"],
        "params": list(r["params"]), "seq": r["seq"],
    }


def log_filter(where: Where, query: LogQuery) -> Where:
    """``where`` (a backend's empty clause) with the query's filters."""
    where.time("ts", query.time)
    where.equals("entity", query.entity)
    where.equals("source", query.source)
    where.any_of("level", sorted({parse_level(v).value for v in query.level}))
    where.text(("message",), query.text)
    if query.template_id is not None:
        # Rows analysed before their template merged into another one keep the old id.
        where.add(
            "(template_id = ? OR template_id IN "
            "(SELECT template_id FROM log_templates WHERE merged_into = ?))",
            query.template_id, query.template_id,
        )
    return where
