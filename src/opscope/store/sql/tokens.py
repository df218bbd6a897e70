"""API tokens. Only the digest of a secret is stored, and it never leaves the store:
rows returned carry the id, name, scopes and dates, so a listing cannot leak a digest.

Each backend gives a :class:`TokenTable` its statements and exports its bound methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opscope.store.ports import Row
from opscope.store.sql.codec import iso, to_naive_utc
from opscope.store.sql.database import Con, SQLDatabase
from opscope.store.sql.where import invalid

SELECT = "SELECT token_id, name, scopes, created_at, revoked_at FROM tokens"


def _same(text: str) -> str:
    return text


def _row(r: tuple[Any, ...]) -> Row:
    return {"token_id": r[0], "name": r[1], "scopes": list(r[2]), "created_at": iso(r[3]),
            "revoked_at": iso(r[4]), "revoked": r[4] is not None}


@dataclass(frozen=True, slots=True)
class TokenTable:
    """The token operations over one backend's statements.

    ``clash`` selects ``token_id = ?`` for rows with the id or the digest (three
    parameters: id, id, digest); ``insert`` takes id, digest, name, scopes and creation
    time; ``find`` selects :data:`SELECT`'s columns of the live token with a digest;
    ``revoke`` stamps the revocation time on a live token (time, id); ``text`` makes a
    name storable by the backend.
    """

    clash: str
    insert: str
    find: str
    revoke: str
    text: Callable[[str], str] = _same

    def add_token(self, db: SQLDatabase[Con], token_id: str, digest: str,
                  scopes: Sequence[str], name: str, now: datetime) -> None:
        if not token_id:
            raise invalid("token_id", "token_id is empty")
        if not digest:
            raise invalid("digest", "digest is empty")
        with db.write() as con:
            clash = db.first_row(con, self.clash, [token_id, token_id, digest])
            if clash is not None:
                field = "token_id" if clash[0] else "digest"
                raise invalid(field, f"a token with this {field} already exists")
            con.execute(self.insert, [token_id, digest, self.text(name), list(scopes),
                                      to_naive_utc(now)])

    def find_token(self, db: SQLDatabase[Con], digest: str) -> Row | None:
        """The live (not revoked) token with this digest, if any."""
        with db.read() as cur:
            row = db.first_row(cur, self.find, [digest])
        return _row(row) if row else None

    def list_tokens(self, db: SQLDatabase[Con]) -> list[Row]:
        with db.read() as cur:
            rows = cur.execute(f"{SELECT} ORDER BY created_at, token_id").fetchall()
        return [_row(r) for r in rows]

    def revoke_token(self, db: SQLDatabase[Con], token_id: str, now: datetime) -> bool:
        """True if a live token was revoked; False if unknown or already revoked."""
        with db.write() as con:
            revoked = db.count(con, self.revoke, [to_naive_utc(now), token_id])
        return revoked > 0
