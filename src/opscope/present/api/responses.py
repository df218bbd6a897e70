"""JSON answers serialised with orjson (fast, handles datetimes and numpy-free data)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONAnswer(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
