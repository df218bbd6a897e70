"""API tokens. Only the digest of a secret is stored, and it never leaves the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from opscope.store.duckdb.codec import iso, to_naive_utc
from opscope.store.ports import Row
from opscope.store.postgres.database import Database, count, first_row
from opscope.store.postgres.where import invalid

_SELECT = "SELECT token_id, name, scopes, created_at, revoked_at FROM tokens"


def _row(r: tuple[Any, ...]) -> Row:
    return {"token_id": r[0], "name": r[1], "scopes": list(r[2]), "created_at": iso(r[3]),
            "revoked_at": iso(r[4]), "revoked": r[4] is not None}


def add_token(
    db: Database, token_id: str, digest: str, scopes: Sequence[str], name: str, now: datetime
) -> None:
    if not token_id:
        raise invalid("token_id", "token_id is empty")
    if not digest:
        raise invalid("digest", "digest is empty")
    with db.write() as con:
        clash = first_row(
            con, "SELECT token_id = %s FROM tokens WHERE token_id = %s OR digest = %s",
            [token_id, token_id, digest],
        )
        if clash is not None:
            field = "token_id" if clash[0] else "digest"
            raise invalid(field, f"a token with this {field} already exists")
        con.execute(
            "INSERT INTO tokens VALUES (%s, %s, %s, %s::text[], %s, NULL)",
            [token_id, digest, name, list(scopes), to_naive_utc(now)],
        )


def find_token(db: Database, digest: str) -> Row | None:
    """The live (not revoked) token with this digest, if any."""
    with db.read() as cur:
        row = first_row(cur, f"{_SELECT} WHERE digest = %s AND revoked_at IS NULL", [digest])
    return _row(row) if row else None


def list_tokens(db: Database) -> list[Row]:
    with db.read() as cur:
        rows = cur.execute(f"{_SELECT} ORDER BY created_at, token_id").fetchall()
    return [_row(r) for r in rows]


def revoke_token(db: Database, token_id: str, now: datetime) -> bool:
    """True if a live token was revoked; False if unknown or already revoked."""
    with db.write() as con:
        revoked = count(
            con, "UPDATE tokens SET revoked_at = %s WHERE token_id = %s AND revoked_at IS NULL",
            [to_naive_utc(now), token_id],
        )
    return revoked > 0
