"""The web chat's session cookie: a random id the server signs, so the page cannot choose it.

Value: ``{session_id}.{issued_at}.{hex HMAC-SHA256(secret, "{session_id}.{issued_at}")}``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class SessionSigner:
    def __init__(self, secret: str, *, max_age_seconds: int = 30 * 24 * 60 * 60) -> None:
        if len(secret) < 16:
            raise ValueError("the web chat session secret must be at least 16 characters")
        self._key = secret.encode("utf-8")
        self.max_age_seconds = max_age_seconds

    def _mac(self, session_id: str, issued: str) -> str:
        return hmac.new(self._key, f"{session_id}.{issued}".encode(), hashlib.sha256).hexdigest()

    def issue(self, *, now: float | None = None) -> tuple[str, str]:
        """A new ``(session_id, cookie_value)``."""
        session_id = secrets.token_urlsafe(18)
        issued = str(int(time.time() if now is None else now))
        return session_id, f"{session_id}.{issued}.{self._mac(session_id, issued)}"

    def verify(self, cookie: str | None, *, now: float | None = None) -> str | None:
        """The session id in a genuine, unexpired cookie; ``None`` otherwise."""
        if not cookie or cookie.count(".") != 2:
            return None
        session_id, issued, mac = cookie.split(".")
        if not _SESSION_ID.match(session_id) or not issued.isdigit():
            return None
        if not hmac.compare_digest(self._mac(session_id, issued).encode(), mac.encode()):
            return None
        age = (time.time() if now is None else now) - int(issued)
        if not 0 <= age <= self.max_age_seconds:
            return None
        return session_id
