"""Tickets from a CSV export of a ticketing system.

The header row names the columns. Columns named like a :class:`~opscope.model.Ticket`
field fill that field; every other column becomes a label. Header names are matched
without regard to case, surrounding spaces, or spaces versus underscores.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from opscope.collect.batch import BatchResult, validate_items
from opscope.errors import PayloadTooLarge
from opscope.model import Ticket

TICKET_FIELDS = ("id", "title", "description", "status", "priority", "entity",
                 "created_at", "resolved_at", "resolution")
REQUIRED = ("id", "title", "created_at")
MAX_ROWS = 100_000
MAX_FIELD = 65_536


def _column(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def parse_tickets_csv(text: str, *, max_rows: int = MAX_ROWS) -> BatchResult[Ticket]:
    """One Ticket per data row.

    A problem's ``index`` is the 1-based line where the row starts (the header is line
    1) and its ``field`` the column name. Empty cells count as absent, so an empty
    ``resolved_at`` is ``None``. Rows with more cells than the header are problems. A
    header without ``id``, ``title`` or ``created_at``, or with a repeated name, rejects
    the file. More than ``max_rows`` rows raise :class:`PayloadTooLarge`.
    """
    result: BatchResult[Ticket] = BatchResult()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    try:
        header = next(reader, None)
        if header is None:
            result.add_problem(None, "header", "the file is empty; expected a header row")
            return result
        columns = [_column(name) for name in header]
        if not _check_header(columns, result):
            return result
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= max_rows:
                raise PayloadTooLarge(f"more than {max_rows} rows", limit=max_rows)
            if len(cells) > len(columns):
                result.add_problem(line, "$", f"row has {len(cells)} cells; the header has "
                                              f"{len(columns)}")
                continue
            rows.append(_row(columns, cells))
            lines.append(line)
    except csv.Error as exc:
        result.add_problem(reader.line_num or None, "$", f"malformed CSV: {exc}")
        return result
    checked = validate_items(Ticket, rows, max_items=max_rows)
    result.items = checked.items
    for problem in checked.problems:
        line_no = lines[problem.index] if problem.index is not None else None
        result.add_problem(line_no, problem.field, problem.message)
    result.problems.sort(key=lambda p: (p.index is None, p.index or 0))
    return result


def _check_header(columns: list[str], result: BatchResult[Ticket]) -> bool:
    seen: set[str] = set()
    for name in columns:
        if not name:
            result.add_problem(1, "header", "a column has no name")
        elif name in seen:
            result.add_problem(1, "header", f"column {name!r} appears twice")
        seen.add(name)
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        result.add_problem(1, "header", "missing required column(s): " + ", ".join(missing))
    return not result.problems


def _row(columns: list[str], cells: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for name, cell in zip(columns, cells, strict=False):
        value = cell.strip()
        if not value:
            continue
        if name in TICKET_FIELDS:
            row[name] = value
        else:
            labels[name] = value
    if labels:
        row["labels"] = labels
    return row
