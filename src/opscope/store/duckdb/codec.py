"""How values cross the DuckDB boundary: Arrow types going in, JSON-ready values coming out.

Timestamps are stored as DuckDB ``TIMESTAMP`` (no zone) holding UTC; the conversions
both backends share are ``opscope.store.sql.codec``'s, re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from opscope.store.sql.codec import EPOCH as EPOCH
from opscope.store.sql.codec import as_labels as as_labels
from opscope.store.sql.codec import aware as aware
from opscope.store.sql.codec import finite_or_none as finite_or_none
from opscope.store.sql.codec import from_micros as from_micros
from opscope.store.sql.codec import iso as iso
from opscope.store.sql.codec import micros as micros
from opscope.store.sql.codec import to_naive_utc as to_naive_utc

TS = pa.timestamp("us", tz="UTC")
"""Arrow type of every timestamp column in a batch (DuckDB stores it as UTC TIMESTAMP)."""

LABELS = pa.map_(pa.string(), pa.string())
"""Arrow type of label maps."""

STRINGS = pa.list_(pa.string())


def label_array(values: Iterable[dict[str, str]]) -> pa.Array:
    return pa.array(list(values), type=LABELS)
