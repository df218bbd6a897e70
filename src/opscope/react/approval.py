"""Approval links: HMAC-signed tokens that approve or reject one held action.

A token is ``base64url(json{"a": approval id, "d": "approve"|"reject", "e": expiry,``
``"u": approver}) "." base64url(HMAC-SHA256(secret, payload))``. It names one decision on
one request for one approver (who is recorded as having decided), carries its own expiry
(never later than the request's), and is checked in constant time. Anyone holding the
link can use it, so a link is sent only to the person it names; the API's authenticated
approve call is the other way in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Literal

import orjson

from opscope.errors import AuthError

Decision = Literal["approve", "reject"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ApprovalSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the approval secret needs at least 16 bytes")
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def sign(
        self, approval_id: str, decision: Decision, expires_at: datetime, approver: str = ""
    ) -> str:
        payload = orjson.dumps(
            {"a": approval_id, "d": decision, "e": int(expires_at.timestamp()), "u": approver}
        )
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, now: datetime) -> tuple[str, Decision, str]:
        """Return (approval id, decision, approver); raise AuthError if forged or expired."""
        try:
            raw_payload, raw_mac = token.split(".", 1)
            payload = _unb64(raw_payload)
            mac = _unb64(raw_mac)
        except (ValueError, TypeError) as exc:
            raise AuthError("malformed approval token", status=400) from exc
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise AuthError("approval token signature does not match", status=403)
        data = orjson.loads(payload)
        if datetime.fromtimestamp(int(data["e"]), UTC) <= now:
            raise AuthError("approval token has expired", status=403)
        decision = data["d"]
        if decision not in ("approve", "reject"):
            raise AuthError("approval token has an unknown decision", status=400)
        return str(data["a"]), decision, str(data.get("u", ""))
