"""A :class:`~opscope.react.ports.HistorySource` over a JSON file of stored triggers.

The file is a JSON document ``{"version": 1, "triggers": [...]}`` (or a bare list), each
trigger as the engine receives it: ``{"kind": "incident.opened", "incident": {...}}``,
optionally with ``"at"``. Lines that do not form a trigger are reported, not skipped
silently. The store-backed source replaces this once incidents are stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from opscope.errors import ValidationFailed
from opscope.react.triggers import Trigger, trigger_from_fields

HISTORY_VERSION = 1


class JsonFileHistory:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._triggers = self._load()

    def _load(self) -> list[Trigger]:
        try:
            data: Any = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ValidationFailed(f"cannot read history {self.path}: {exc}") from exc
        if isinstance(data, dict):
            if data.get("version", HISTORY_VERSION) != HISTORY_VERSION:
                raise ValidationFailed(f"{self.path}: unsupported version {data.get('version')}")
            data = data.get("triggers", [])
        if not isinstance(data, list):
            raise ValidationFailed(f"{self.path}: expected a list of triggers")
        out: list[Trigger] = []
        problems: list[dict[str, Any]] = []
        for index, item in enumerate(data):
            try:
                if not isinstance(item, dict):
                    raise ValueError("a trigger is a JSON object")
                out.append(trigger_from_fields(item))
            except (ValueError, ValidationError) as exc:
                problems.append({"index": index, "field": "kind", "message": str(exc)[:300]})
        if problems:
            raise ValidationFailed(f"{self.path}: {len(problems)} invalid trigger(s)", problems)
        out.sort(key=lambda t: t.at)
        return out

    def triggers(self, start: datetime, end: datetime) -> Iterator[Trigger]:
        return (t for t in self._triggers if start <= t.at < end)

    def latest(self) -> datetime | None:
        return self._triggers[-1].at if self._triggers else None
