"""The request signature: ``v1=hex(HMAC-SHA256(secret, "v1:{timestamp}:{body}"))``."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-CivicDesk-Signature"
TIMESTAMP_HEADER = "X-CivicDesk-Timestamp"
MESSAGE_ID_HEADER = "X-CivicDesk-Message-Id"
REPLAY_WINDOW_SECONDS = 300
_VERSION = "v1"


class SignatureError(Exception):
    """The signature is missing, malformed, stale or wrong; ``code`` says which."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-CivicDesk-Signature`` header value for ``body`` sent at ``timestamp``."""
    signed = f"{_VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"{_VERSION}={digest}"


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float | None = None,
    window_seconds: int = REPLAY_WINDOW_SECONDS,
) -> None:
    """Check a request's signature headers against ``body``.

    Raises:
        SignatureError: missing headers, a timestamp outside the replay window, or a
            signature that does not match (compared in constant time).
    """
    if not timestamp_header or not signature_header:
        raise SignatureError("missing_signature", "signature and timestamp headers are required")
    try:
        timestamp = int(timestamp_header)
    except ValueError as error:
        raise SignatureError("invalid_timestamp", "timestamp must be Unix seconds") from error
    current = time.time() if now is None else now
    if abs(current - timestamp) > window_seconds:
        raise SignatureError("expired_signature", "timestamp is outside the replay window")
    expected = sign(secret, timestamp_header, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature_header.strip().encode()):
        raise SignatureError("invalid_signature", "signature does not match")
