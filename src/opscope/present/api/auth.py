"""API tokens: ``ops_<id>_<secret>``, stored as a SHA-256 digest, with scopes.

Scopes: ``ingest`` (write data), ``read`` (query), ``admin`` (tokens, settings; implies
the other two). Lookups are cached briefly so that a busy ingest path does not hit the
store per request; a revoked token stops working within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opscope.errors import AuthError, ValidationFailed
from opscope.store.ports import TokenStore

SCOPES = ("ingest", "read", "admin")
CACHE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_scopes(scopes: Iterable[str]) -> list[str]:
    result = sorted(set(scopes))
    unknown = [s for s in result if s not in SCOPES]
    if unknown or not result:
        raise ValidationFailed(
            f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}",
            [{"index": None, "field": "scopes", "message": "unknown or missing scope"}])
    return result


def create_token(store: TokenStore, scopes: Sequence[str], name: str = "") -> str:
    """Make a token, store its digest, and return the secret (shown once)."""
    checked = check_scopes(scopes)
    token_id = secrets.token_hex(4)
    token = f"ops_{token_id}_{secrets.token_urlsafe(24)}"
    store.add_token(token_id, digest_of(token), checked, name)
    return token


class Authenticator:
    def __init__(self, store: TokenStore) -> None:
        self._store = store
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def authenticate(self, header: str | None, scope: str) -> Principal:
        if not header or not header.startswith("Bearer "):
            raise AuthError("missing bearer token: send 'Authorization: Bearer <token>'")
        token = header[len("Bearer "):].strip()
        principal = self._lookup(token)
        if principal is None:
            raise AuthError("unknown or revoked token")
        if not principal.allows(scope):
            raise AuthError(f"this token lacks the '{scope}' scope", status=403)
        return principal

    def _lookup(self, token: str) -> Principal | None:
        digest = digest_of(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        row = self._store.find_token(digest)
        principal = None
        if row is not None and not row.get("revoked"):
            principal = Principal(str(row["token_id"]), str(row.get("name") or ""),
                                  frozenset(row["scopes"]))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal
