"""Hashed sender ids for the back office's log lines.

A chat identity (``telegram:12345``) points at a person, so log lines name it by a keyed
hash: ``s-`` and 12 hex digits of HMAC-SHA256. The key is ``BACKOFFICE__LOG_HASH_KEY``; give
the bot side's ``CIVICDESK_LOG_HASH_KEY`` the same value and one citizen's lines carry the same
tag in every process (the bot side's helper is ``actions/observability.py``). Without a key,
each process draws a random one: tags then only match within that process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_key: bytes = secrets.token_bytes(32)


def configure(key: str) -> None:
    """Use ``key`` for every tag from now on (``main()`` calls it; empty keeps the random one)."""
    global _key
    if key:
        _key = key.encode()


def sender_tag(identity: str | None) -> str:
    """The log pseudonym of ``identity``; ``s-none`` for none."""
    if not identity:
        return "s-none"
    return "s-" + hmac.new(_key, identity.encode(), hashlib.sha256).hexdigest()[:12]
