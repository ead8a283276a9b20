"""Bearer API keys: `Authorization: Bearer <key>` against ADAPTER_API_KEYS, in constant time.

Every configured key is compared (no early exit), and each comparison is between SHA-256
digests of equal length, so neither which key matched nor a key's length shows in the timing.
In demo mode with no keys configured the API is open; with no keys outside demo mode every
protected route refuses (fail closed; `serve` refuses to start that way anyway).
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from adapter.api.outcomes import MissingCredentials, WrongCredentials

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="her2-adapter"'}


class ApiKeys:
    """The configured keys, kept only as digests."""

    def __init__(self, keys: frozenset[str], *, demo_mode: bool) -> None:
        self._digests = tuple(_digest(key) for key in sorted(keys))
        self.open = demo_mode and not keys

    def check(self, authorization: str | None) -> None:
        """Return when `authorization` carries a configured key; raise MissingCredentials
        (401) when there is none, WrongCredentials (403) when it is not configured."""
        if self.open:
            return
        scheme, _, key = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise MissingCredentials(
                "an API key is required: Authorization: Bearer <key>", headers=_CHALLENGE
            )
        if self.matching(key.strip()) is None:
            raise WrongCredentials("the API key is not accepted")

    def matching(self, key: str) -> bytes | None:
        """The digest of the configured key `key` is, or None; compares with every key."""
        offered = _digest(key)
        matched = None
        for digest in self._digests:
            if hmac.compare_digest(offered, digest):
                matched = digest
        return matched

    def fingerprints(self, secret: bytes) -> tuple[str, ...]:
        """Each configured key as an HMAC of its digest under `secret`: what a console session
        keeps to know that its key is still configured, without holding the key."""
        return tuple(fingerprint(digest, secret) for digest in self._digests)


def fingerprint(digest: bytes, secret: bytes) -> str:
    return hmac.new(secret, digest, hashlib.sha256).hexdigest()


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def require_api_key(request: Request) -> None:
    """FastAPI dependency of every route but /health/live and /metadata."""
    keys: ApiKeys = request.app.state.services.keys
    keys.check(request.headers.get("authorization"))
