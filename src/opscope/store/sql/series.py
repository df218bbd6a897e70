"""Metric series reads both backends share: series by matchers, their points, expected
bands and anomaly marks, with the row and point shapes of ``opscope.store.ports``.

``query_series`` returns, per matching series::

    {"series_id", "name", "labels", "entity", "points": [[epoch_ms, value], ...]}

Points are ``[milliseconds since the epoch (int), value]``, oldest first: integers are
exact in JSON and are what chart libraries and JavaScript ``Date`` take directly. A NaN
sample (a missing value) reads as ``null`` in raw points and is left out of aggregates.
With ``step_seconds`` the samples are grouped into buckets aligned on the epoch
(``floor(ts / step) * step``) and each point is the bucket start and the aggregate
(``avg``, ``min``, ``max``, ``sum`` or ``last``) of its samples; buckets without samples
are absent, not zero. Bands and anomaly marks are read back aligned with the points::

    band:      [[epoch_ms, expected, lower, upper], ...]    oldest first
    anomalies: [[epoch_ms, score, direction], ...]          oldest first

The logic is written once in :class:`SeriesReads`; a backend gives it the SQL fragments
its dialect spells its own way and exports the bound methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opscope.store.ports import LabelMatcher, Row, SeriesQuery, TimeRange
from opscope.store.sql.codec import as_labels, finite_or_none, iso
from opscope.store.sql.database import Con, Connection, SQLDatabase
from opscope.store.sql.paging import check_limit
from opscope.store.sql.where import Where, invalid

METRIC_ANOMALY_KIND = "metric"
"""Kind of the anomalies drawn as marks on a series (their subject is the series id)."""

_SERIES = "SELECT series_id, name, labels, entity, first_ts FROM series"


def step_micros(step_seconds: float | None) -> int | None:
    if step_seconds is None:
        return None
    step_us = round(step_seconds * 1_000_000)
    if step_us < 1_000:
        raise invalid("step_seconds", "step_seconds must be at least 0.001")
    return step_us


def _series_row(r: tuple[Any, ...]) -> Row:
    return {"series_id": r[0], "name": r[1], "labels": as_labels(r[2]), "entity": r[3],
            "first_ts": iso(r[4])}


@dataclass(frozen=True, slots=True)
class SeriesReads:
    """The series reads over one backend's dialect.

    ``where`` makes the backend's empty ``WHERE`` clause; ``in_list`` is a clause keeping
    the rows whose column ``{0}`` is in a list bound as its one ``?`` parameter;
    ``epoch_ms`` is the milliseconds since the epoch of the ``TIMESTAMP`` expression
    ``{0}``; ``bucket_ms(column, step_us)`` the epoch-aligned bucket start of a column in
    milliseconds; ``aggregates`` maps each ``agg`` choice to its SQL over ``value``;
    ``not_nan`` keeps the samples whose value is not NaN.
    """

    where: Callable[[], Where]
    in_list: str
    epoch_ms: str
    bucket_ms: Callable[[str, int], str]
    aggregates: Mapping[str, str]
    not_nan: str

    def _series_where(self, cur: Connection, name: str | None,
                      matchers: Sequence[LabelMatcher]) -> Where:
        where = self.where()
        where.equals("name", name)
        where.matchers(cur, "labels", matchers, "matchers", name_column="name")
        return where

    def list_series(self, db: SQLDatabase[Con], name: str | None,
                    matchers: Sequence[LabelMatcher], limit: int) -> list[Row]:
        """Series matching ``name`` (any if None) and ``matchers``, by name then id."""
        limit = check_limit(limit)
        with db.read() as cur:
            where = self._series_where(cur, name, matchers)
            rows = cur.execute(
                f"{_SERIES}{where.sql()} ORDER BY name, series_id LIMIT {limit}",
                where.params,
            ).fetchall()
        return [_series_row(r) for r in rows]

    def query_series(self, db: SQLDatabase[Con], query: SeriesQuery) -> list[Row]:
        agg = self.aggregates.get(query.agg)
        if agg is None:
            raise invalid("agg", f"agg must be one of {', '.join(self.aggregates)}")
        step_us = step_micros(query.step_seconds)
        max_series = check_limit(query.max_series, "max_series")
        with db.read() as cur:
            where = self._series_where(cur, query.name, query.matchers)
            series = cur.execute(
                f"{_SERIES}{where.sql()} ORDER BY series_id LIMIT {max_series}",
                where.params,
            ).fetchall()
            if not series:
                return []
            samples = self.where()
            samples.add(self.in_list.format("series_id"), [r[0] for r in series])
            samples.time("ts", query.time)
            if step_us is None:
                sql = (
                    f"SELECT series_id, {self.epoch_ms.format('ts')}, value FROM samples"
                    f"{samples.sql()} ORDER BY series_id, ts"
                )
            else:
                samples.add(self.not_nan)
                sql = (
                    f"SELECT series_id, {self.bucket_ms('ts', step_us)} AS bucket, {agg} "
                    f"FROM samples{samples.sql()} GROUP BY series_id, bucket "
                    "ORDER BY series_id, bucket"
                )
            points = cur.execute(sql, samples.params).fetchall()
        by_series: dict[str, list[list[Any]]] = {r[0]: [] for r in series}
        for sid, at, value in points:
            by_series[sid].append([int(at), finite_or_none(value)])
        out = []
        for r in series:
            row = _series_row(r)
            del row["first_ts"]
            row["points"] = by_series[r[0]]
            out.append(row)
        return out

    def query_bands(self, db: SQLDatabase[Con], series_ids: Sequence[str], span: TimeRange,
                    step_seconds: float | None) -> dict[str, list[list[Any]]]:
        """Band points per series id (every id given is a key, possibly with no points).

        With ``step_seconds`` bands are grouped into the same epoch-aligned buckets as the
        points of ``query_series`` and each bucket holds the average of its expected
        values and bounds."""
        step_us = step_micros(step_seconds)
        out: dict[str, list[list[Any]]] = {sid: [] for sid in series_ids}
        if not series_ids:
            return out
        where = self.where()
        where.add(self.in_list.format("series_id"), list(series_ids))
        where.time("ts", span)
        if step_us is None:
            sql = (f"SELECT series_id, {self.epoch_ms.format('ts')}, expected, lower, upper "
                   f"FROM metric_bands{where.sql()} ORDER BY series_id, ts")
        else:
            sql = (f"SELECT series_id, {self.bucket_ms('ts', step_us)} AS bucket, "
                   f"avg(expected), avg(lower), avg(upper) FROM metric_bands{where.sql()} "
                   "GROUP BY series_id, bucket ORDER BY series_id, bucket")
        with db.read() as cur:
            rows = cur.execute(sql, where.params).fetchall()
        for sid, at, expected, lower, upper in rows:
            out[sid].append([int(at), finite_or_none(expected), finite_or_none(lower),
                             finite_or_none(upper)])
        return out

    def anomaly_marks(self, db: SQLDatabase[Con], series_ids: Sequence[str], span: TimeRange
                      ) -> dict[str, list[list[Any]]]:
        """Metric anomalies per series id, as ``[epoch_ms, score, direction]``, oldest
        first."""
        out: dict[str, list[list[Any]]] = {sid: [] for sid in series_ids}
        if not series_ids:
            return out
        where = self.where()
        where.add("kind = ?", METRIC_ANOMALY_KIND)
        where.add(self.in_list.format("subject"), list(series_ids))
        where.time("ts", span)
        with db.read() as cur:
            rows = cur.execute(
                f"SELECT subject, {self.epoch_ms.format('ts')}, score, direction FROM anomalies"
                f"{where.sql()} ORDER BY subject, ts", where.params,
            ).fetchall()
        for sid, at, score, direction in rows:
            out[sid].append([int(at), finite_or_none(score), direction])
        return out
