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
import re
import secrets

_key: bytes = secrets.token_bytes(32)
_CHANNEL_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,31}:")


def configure(key: str) -> None:
    """Use ``key`` for every tag from now on (``main()`` calls it; empty keeps the random one)."""
    global _key
    if key:
        _key = key.encode()


def sender_tag(identity: str | None) -> str:
    """The log pseudonym of ``identity``; ``s-none`` for none."""
    if not identity:
        return "s-none"
    # The hash is of the conversation id (the part after "channel:"), as on the bot side,
    # where some lines know only Rasa's conversation id: one citizen, one tag.
    conversation = _CHANNEL_PREFIX.sub("", identity, count=1)
    return "s-" + hmac.new(_key, conversation.encode(), hashlib.sha256).hexdigest()[:12]
