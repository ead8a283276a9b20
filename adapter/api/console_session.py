"""The operations console's sessions: a login with an API key opens one; its cookie is signed.

The cookie (`her2_console`: HttpOnly, SameSite=Strict, Secure over HTTPS, Max-Age the session's
life) holds only a random session id, signed and timestamped by itsdangerous: a cookie that was
altered or is older than `CONSOLE_SESSION_SECONDS` is refused without a Redis read. The session
itself is kept in Redis (`her2:console-session:<id>`, expiring with the cookie): its CSRF token
and a fingerprint of the key that opened it (`ApiKeys.fingerprints`). Logging out deletes it,
so a copy of the cookie is worth nothing afterwards; a key taken out of ADAPTER_API_KEYS ends
its sessions at the next request.

The login form is itself protected against cross-site posting: its GET sets a short-lived signed
cookie (`her2_console_login`) whose token the form must send back.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Final

import redis
from itsdangerous import BadSignature, URLSafeTimedSerializer

from adapter.api.auth import ApiKeys, fingerprint

COOKIE: Final = "her2_console"
LOGIN_COOKIE: Final = "her2_console_login"
LOGIN_SECONDS: Final = 600  # to fill in the login form
PREFIX: Final = "her2:console-session:"


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    csrf: str  # the token every form of the session sends back

    def csrf_matches(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.csrf.encode())


class ConsoleSessions:
    def __init__(
        self, client: redis.Redis, keys: ApiKeys, secret: bytes, lifetime_seconds: int
    ) -> None:
        self._redis = client
        self._keys = keys
        self._secret = secret
        self.lifetime_seconds = lifetime_seconds
        self._cookies = URLSafeTimedSerializer(secret, salt="her2-console-session")
        self._logins = URLSafeTimedSerializer(secret, salt="her2-console-login")

    def open(self, key: str) -> tuple[str, Session] | None:
        """A new session for `key` and its cookie value; None when the key is not accepted
        (or no key is configured: the console never opens without one)."""
        digest = self._keys.matching(key.strip()) if key.strip() else None
        if digest is None:
            return None
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        record = {"csrf": session.csrf, "key": fingerprint(digest, self._secret)}
        self._redis.set(PREFIX + session.id, json.dumps(record), ex=self.lifetime_seconds)
        return self._cookies.dumps(session.id), session

    def find(self, cookie: str | None) -> Session | None:
        """The live session of `cookie`; None for no, a bad, an expired or an ended one."""
        if not cookie:
            return None
        try:
            session_id = self._cookies.loads(cookie, max_age=self.lifetime_seconds)
        except BadSignature:  # SignatureExpired is one
            return None
        raw = self._redis.get(PREFIX + str(session_id))
        if raw is None:
            return None
        record = json.loads(raw)
        configured = self._keys.fingerprints(self._secret)
        if not any(hmac.compare_digest(record["key"], mine) for mine in configured):
            return None
        return Session(str(session_id), record["csrf"])

    def end(self, session: Session) -> None:
        self._redis.delete(PREFIX + session.id)

    def login_token(self) -> tuple[str, str]:
        """A token for the login form and the cookie value that vouches for it."""
        token = secrets.token_urlsafe(32)
        return self._logins.dumps(token), token

    def login_token_matches(self, cookie: str | None, offered: str | None) -> bool:
        if not cookie or not offered:
            return False
        try:
            token = str(self._logins.loads(cookie, max_age=LOGIN_SECONDS))
        except BadSignature:
            return False
        return hmac.compare_digest(token.encode(), offered.encode())
