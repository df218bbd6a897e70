"""API tokens in PostgreSQL: the statements; the logic is ``opscope.store.sql.tokens``."""

from __future__ import annotations

from opscope.store.postgres.codec import clean
from opscope.store.sql.tokens import SELECT, TokenTable

_TOKENS = TokenTable(
    clash="SELECT token_id = %s FROM tokens WHERE token_id = %s OR digest = %s",
    insert="INSERT INTO tokens VALUES (%s, %s, %s, %s::text[], %s, NULL)",
    find=f"{SELECT} WHERE digest = %s AND revoked_at IS NULL",
    revoke="UPDATE tokens SET revoked_at = %s WHERE token_id = %s AND revoked_at IS NULL",
    text=clean,
)

add_token = _TOKENS.add_token
find_token = _TOKENS.find_token
list_tokens = _TOKENS.list_tokens
revoke_token = _TOKENS.revoke_token
