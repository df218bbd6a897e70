"""API tokens in DuckDB: the statements; the logic is ``opscope.store.sql.tokens``."""

from __future__ import annotations

from opscope.store.sql.tokens import SELECT, TokenTable

_TOKENS = TokenTable(
    clash="SELECT token_id = ? FROM tokens WHERE token_id = ? OR digest = ?",
    insert="INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)",
    find=f"{SELECT} WHERE digest = ? AND revoked_at IS NULL",
    revoke="UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
)

add_token = _TOKENS.add_token
find_token = _TOKENS.find_token
list_tokens = _TOKENS.list_tokens
revoke_token = _TOKENS.revoke_token
